"""Benchmark every method of a method table on every domain and seed: what
``tools/benchmark_methods.py`` runs.

A method table is a config such as ``configs/benchmark/synthetic_methods.py``:
the model and data of a source config, ``methods`` (name -> adapter config),
``protocol``, ``seeds``, ``domains_key``, ``source_work_dir`` and
``train_config`` (how the source model is made), and optionally
``calibrated_checkpoint`` (see :func:`source_checkpoint`),
``sync_methods`` (with ``sync_steps``, ``sync_interval``) and
``continual=True`` (every domain in one stream without reset, CoTTA's
setting: the protocol must carry the adapted state across domains).
"""
import json
import os
import os.path as osp
import pprint
from typing import Dict, List, Optional, Sequence
from urllib.parse import quote

import numpy as np
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.runner import find_latest_checkpoint

from s4t_mm.fileio import atomic_write_bytes
from s4t_mm.engine.launch import setup_launcher
from s4t_mm.engine.runner import check_domains
from s4t_mm.evaluation.multi_task_gain import metric_direction
from .adaptation_config import carries_state_across_domains
from .comparison import compare, write_comparison
from .norm_calibration import calibrate_checkpoint
from .sync_analysis import method_parts, sync_reports
from .training import train

BN_ADAPT = 'bn_adapt'


def source_checkpoint_ready(table: Config) -> bool:
    """Whether :func:`source_checkpoint` finds its checkpoint without
    training or calibrating."""
    calibrated = table.get('calibrated_checkpoint')
    if calibrated:
        return osp.isfile(calibrated)
    work_dir = table.source_work_dir
    return osp.isdir(work_dir) and find_latest_checkpoint(work_dir) is not None


def source_checkpoint(table: Config, hooks: Sequence[Hook] = ()) -> str:
    """The source model's latest checkpoint in ``table.source_work_dir``;
    trained there first (:func:`~s4t_mm.apis.training.train` on
    ``table.train_config``, with the table's launcher) if it holds none.

    A table that names a ``calibrated_checkpoint`` uses that file instead:
    the source checkpoint with every normalisation policy's calibration
    (:func:`~s4t_mm.apis.norm_calibration.calibrate_checkpoint`), written
    there first if it does not exist (a source model trained before the
    shift-response calibration works with one command). ``hooks`` are
    registered in the training's Runner besides the config's."""
    calibrated = table.get('calibrated_checkpoint')
    if calibrated and osp.isfile(calibrated):
        print_log(f'[benchmark] source checkpoint {calibrated}',
                  logger='current')
        return calibrated
    ckpt = _trained_checkpoint(table, hooks)
    if calibrated:
        print_log(f'[benchmark] calibrating {ckpt} into {calibrated}',
                  logger='current')
        os.makedirs(osp.dirname(osp.abspath(calibrated)), exist_ok=True)
        calibrate_checkpoint(table.train_config, ckpt, calibrated)
        ckpt = calibrated
    print_log(f'[benchmark] source checkpoint {ckpt}', logger='current')
    return ckpt


def _trained_checkpoint(table: Config, hooks: Sequence[Hook]) -> str:
    work_dir = table.source_work_dir
    ckpt = find_latest_checkpoint(work_dir) if osp.isdir(work_dir) else None
    if ckpt is None:
        print_log(f'[benchmark] training the source model '
                  f'({table.train_config}) into {work_dir}',
                  logger='current')
        cfg = Config.fromfile(table.train_config)
        cfg.work_dir = work_dir
        setup_launcher(cfg, table.get('launcher', 'none'))
        ckpt = train(cfg, hooks=hooks)
        if ckpt is None:
            raise RuntimeError(f'training {table.train_config} left no '
                               f'checkpoint in {work_dir}')
    return ckpt


def _in_order(value) -> str:
    """``value`` as JSON that keeps every dict's key order (tuples read as
    lists), to tell two configs that differ only in order apart."""
    return json.dumps(value, default=repr)


def dump_in_order(cfg: Config, path: str) -> None:
    """Write ``cfg`` as a Python config file that loads back
    (``Config.fromfile``) with every dict in its key order.

    mmengine's ``Config.dump`` sorts the keys of every dict, and order is
    meaning in a config: ``model.heads`` in its order is the model's task
    order, which lays out the relation predictor's channels
    (``TaskRelationPredictor.tasks``: its compressor's task slices and its
    reconstruction's per-task channels). A checkpoint trained with
    semseg, depth, normals, edge loads without a complaint into the model
    of the sorted config (depth, edge, normals, semseg), with every
    relation channel given to the wrong task: source-only and BN-adapt do
    not notice, S4T (and aux-consistency) adapt on scrambled
    reconstructions. Raises if the file would not load back as ``cfg``."""
    data = cfg.to_dict()
    text = ''.join(f'{key} = {pprint.pformat(value, sort_dicts=False)}\n'
                   for key, value in data.items())
    atomic_write_bytes(text.encode(), path)
    if _in_order(Config.fromfile(path).to_dict()) != _in_order(data):
        raise RuntimeError(f'{path} does not load back as the config '
                           'written into it (order or values differ)')


def method_configs(table: Config, names: Sequence[str],
                   out_dir: str) -> List[str]:
    """One config file per method in ``out_dir`` (the record of exactly
    what ran, :func:`dump_in_order`: read back, every dict keeps the
    table's key order): the table with only that method's
    TestTimeAdaptHook in ``custom_hooks``."""
    unknown = [n for n in names if n not in table.methods]
    if unknown:
        raise KeyError(f'unknown method(s) {unknown}; the table has '
                       f'{list(table.methods)}')
    os.makedirs(out_dir, exist_ok=True)
    paths = []
    for name in names:
        cfg = Config(dict(table.to_dict(), custom_hooks=[dict(
            type='TestTimeAdaptHook', adapter=table.methods[name],
            protocol=table.protocol)]))
        for key in ('methods', 'sync_methods'):
            cfg.pop(key, None)
        path = osp.join(out_dir, f'{name}.py')
        dump_in_order(cfg, path)
        paths.append(path)
    return paths


def task_changes(method: dict, source: dict, keys: Sequence[str],
                 domains: Sequence[str]) -> Dict[str, float]:
    """Per delta_m key: the mean over domains and seeds of the relative
    change against source-only (percent, up = better)."""
    changes = {}
    for key in keys:
        sign = -1.0 if metric_direction(key) == 'lower' else 1.0
        values = []
        for domain in domains:
            base = source['results'][domain]['metrics'][key]
            for metrics in method['summary'][domain][
                    'adapted_per_seed'].values():
                values.append(100 * sign * (metrics[key] - base) / base)
        changes[key] = float(np.mean(values))
    return changes


ORACLE = 'oracle (labels)'
#: A domain-seed run this far below source-only (delta_m, percent) counts
#: as a loss in the safety columns (the safe-adaptation target).
LOSS_MARGIN = -1.0


def oracle_method(results: dict, reference: str = BN_ADAPT) -> dict:
    """The ceiling a label-free choice between the source statistics and
    BN-adapt is judged against: per domain and seed the better of
    source-only and ``reference`` (BN-adapt), **chosen with the test
    labels**; a method summary like the others (``delta_m_per_seed``,
    ``adapted_per_seed``)."""
    summary = {}
    for domain, ref in results['methods'][reference]['summary'].items():
        per_seed, adapted = [], {}
        for seed, metrics in ref['adapted_per_seed'].items():
            value = ref['delta_m_per_seed'][len(per_seed)]
            better = value is not None and value > 0 and \
                not ref.get('diverged')
            per_seed.append(value if better else 0.0)
            adapted[seed] = metrics if better else ref['source']
        summary[domain] = dict(delta_m=float(np.mean(per_seed)),
                               delta_m_per_seed=per_seed,
                               delta_m_std=float(np.std(per_seed)),
                               adapted_per_seed=adapted, diverged=False)
    return dict(summary=summary)


def with_oracle(results: dict) -> dict:
    """``results`` with :func:`oracle_method` as the last method (when the
    table has BN-adapt)."""
    if BN_ADAPT not in results['methods']:
        return results
    methods = dict(results['methods'])
    methods[ORACLE] = oracle_method(results)
    return dict(results, methods=methods)


def policy_choices(work_dir: str, names: Sequence[str],
                   seeds: Sequence[int], domains: Sequence[str]
                   ) -> Dict[str, Dict[str, float]]:
    """Per method and domain, the normalisation policy's choice: the mean
    over seeds of its mean weight of the batch's statistics over the
    layers (``norm_weights`` of the stored runs, the last adapted batch);
    methods whose policy reports no weights are left out."""
    choices = {}
    for name in names:
        per_domain = {}
        for domain in domains:
            values = []
            for seed in seeds:
                path = osp.join(method_parts(work_dir, name, f'seed{seed}'),
                                quote(domain, safe='') + '.json')
                if not osp.isfile(path):
                    continue
                with open(path) as f:
                    weights = json.load(f)['result'].get('norm_weights')
                if weights:
                    values.append(float(np.mean(list(weights.values()))))
            if values:
                per_domain[domain] = float(np.mean(values))
        if per_domain:
            choices[name] = per_domain
    return choices


def domain_table(results: dict, choices: Dict[str, Dict[str, float]]
                 ) -> str:
    """Markdown: per domain, each method's delta_m (mean over seeds; a
    blending policy's mean target weight in brackets, the policy's
    choice), and the share of domain-seed runs below
    :data:`LOSS_MARGIN` in the last row."""
    methods = results['methods']
    lines = ['| domain | ' + ' | '.join(methods) + ' |',
             '|' + '---|' * (len(methods) + 1)]
    for domain in results['domains']:
        cells = []
        for name, method in methods.items():
            s = method['summary'][domain]
            cell = 'diverged' if s.get('diverged') else \
                f'{s["delta_m"]:+.2f}'
            if domain in choices.get(name, {}):
                cell += f' [{choices[name][domain]:.2f}]'
            cells.append(cell)
        lines.append(f'| {domain} | ' + ' | '.join(cells) + ' |')
    lines.append(f'| runs below {LOSS_MARGIN:+.0f} % | ' + ' | '.join(
        losses_cell(m, results['domains']) for m in methods.values()) +
        ' |')
    return '\n'.join(lines)


def losses_cell(method: dict, domains: Sequence[str]) -> str:
    """``k/N``: the domain-seed runs of ``domains`` below
    :data:`LOSS_MARGIN` (a diverged domain counts all its runs)."""
    below = total = 0
    for domain in domains:
        s = method['summary'][domain]
        values = s['delta_m_per_seed']
        total += len(values)
        below += len(values) if s.get('diverged') else sum(
            v is None or v < LOSS_MARGIN for v in values)
    return f'{below}/{total}'


def summary_table(results: dict, groups: Dict[str, List[str]],
                  sync: Dict[str, dict]) -> str:
    """Markdown: one row per method and domain group. Medians beside the
    means, since a domain where source-only scores near 0 on one metric
    makes its relative change, and so the mean delta_m, explode. The
    worst domain and the share of domain-seed runs more than 1 % below
    source-only are the safety columns. A domain where a method diverged
    is left out of that method's numbers (and of its comparison with
    BN-adapt) and counted in the last column."""
    keys = results['keys']
    source = next(iter(results['source'].values()))
    methods = results['methods']
    header = (['domains', 'method', 'mean delta_m (%)',
               'beyond BN-adapt (pp)', 'median delta_m (%)',
               'median beyond BN-adapt (pp)', 'better than BN-adapt on'] +
              [f'{k} (%)' for k in keys] +
              ['worst domain delta_m', f'runs below {LOSS_MARGIN:+.0f} %',
               'diverged'])
    lines = ['| ' + ' | '.join(header) + ' |',
             '|' + '---|' * len(header)]

    def kept(name, domains):
        return [d for d in domains
                if not methods[name]['summary'][d].get('diverged')]

    def mean_per_seed(name, domains):
        return np.mean([methods[name]['summary'][d]['delta_m_per_seed']
                        for d in domains], axis=0)

    for group, domains in groups.items():
        domains = [d for d in domains if d in results['domains']]
        if not domains:
            continue
        for name, method in methods.items():
            ok = kept(name, domains)
            if not ok:
                lines.append(f'| {group} | {name} | diverged |' +
                             ' |' * (len(header) - 4) +
                             f' {len(domains)} |')
                continue
            per_seed = mean_per_seed(name, ok)
            per_domain = [method['summary'][d]['delta_m'] for d in ok]
            beyond = median_beyond = better = ''
            if BN_ADAPT in methods:
                both = kept(BN_ADAPT, ok)
                gain = mean_per_seed(name, both) - mean_per_seed(
                    BN_ADAPT, both)
                beyond = f'{np.mean(gain):+.2f}'
                gains = [method['summary'][d]['delta_m'] -
                         methods[BN_ADAPT]['summary'][d]['delta_m']
                         for d in both]
                median_beyond = f'{np.median(gains):+.2f}'
                better = f'{sum(g > 0 for g in gains)}/{len(gains)}'
            worst = min(ok, key=lambda d: method['summary'][d]['delta_m'])
            changes = task_changes(method, source, keys, ok)
            cells = [group, name,
                     f'{np.mean(per_seed):+.2f} ± {np.std(per_seed):.2f}',
                     beyond, f'{np.median(per_domain):+.2f}', median_beyond,
                     better] + [f'{changes[k]:+.2f}' for k in keys] + [
                         f'{worst} '
                         f'{method["summary"][worst]["delta_m"]:+.2f}',
                         losses_cell(method, domains),
                         str(len(domains) - len(ok))]
            lines.append('| ' + ' | '.join(cells) + ' |')
    if sync:
        lines += ['', '| method | domain | best step per task | spread |',
                  '|---|---|---|---|']
        for name, reports in sync.items():
            for domain in [d for d in results['domains'] if d in reports]:
                report = reports[domain]
                steps = ', '.join(
                    f'{t} {s}' for t, s in sorted(report['best_step'].items()))
                lines.append(f'| {name} | {domain} | {steps} | '
                             f'{report["spread"]} |')
    return '\n'.join(lines)


def stream_table(results: dict) -> str:
    """Markdown: the domains in the order the continual stream met them,
    each method's delta_m there (mean ± std over seeds), so a collapse over
    time shows as a falling column."""
    methods = results['methods']
    lines = ['| # | domain | ' + ' | '.join(methods) + ' |',
             '|' + '---|' * (len(methods) + 2)]
    for i, domain in enumerate(results['domains'], 1):
        cells = []
        for method in methods.values():
            s = method['summary'][domain]
            cells.append('diverged' if s['diverged'] else
                         f'{s["delta_m"]:+.2f} ± {s["delta_m_std"]:.2f}')
        lines.append(f'| {i} | {domain} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def run_benchmark(table: Config, work_dir: str,
                  names: Optional[Sequence[str]] = None,
                  seeds: Optional[Sequence[int]] = None,
                  domains_key: Optional[str] = None,
                  sync: bool = True) -> str:
    """Every method of ``table`` (or ``names``) on every domain of
    ``domains_key`` and ``seeds`` (default the table's), resumable:

    1. the source model (:func:`source_checkpoint`);
    2. one config per method in ``work_dir/configs/<name>.py``;
    3. :func:`~s4t_mm.apis.comparison.compare` on them with ``resume``
       (``work_dir/comparison.md`` and ``.json``);
    4. the synchronisation analysis of ``sync_methods`` (seed = the first
       seed; :func:`~s4t_mm.apis.sync_analysis.sync_reports`), unless not
       ``sync``;
    5. ``work_dir/benchmark.md``: per method and domain group, mean delta_m
       over domains (mean ± std over seeds), its gain beyond BN-adapt, each
       task's mean change against source-only, the sync spreads and, for a
       continual table, the per-domain delta_m in stream order.

    The table's ``launcher`` (``'none'`` if unset) runs everything, also
    the source training. Returns the text of ``benchmark.md``.
    """
    names = list(names or table.methods)
    seeds = list(seeds or table.seeds)
    domains_key = domains_key or table.domains_key
    domains = check_domains(table, domains_key)
    ckpt = source_checkpoint(table)
    paths = method_configs(table, names, osp.join(work_dir, 'configs'))
    configs = [Config.fromfile(path) for path in paths]
    continual = table.get('continual', False)
    if continual and not carries_state_across_domains(configs[0]):
        raise ValueError(f'continual=True needs a protocol that carries the '
                         f'adapted state across domains, i.e. '
                         f"dict(type='online') without reset_each_domain; "
                         f'the table has {table.protocol}')
    results = compare(configs, paths, names, [ckpt], seeds, domains_key,
                      work_dir, resume=True)
    write_comparison(results, work_dir)
    reports = {}
    sync_names = [n for n in table.get('sync_methods', []) if n in names]
    for name in sync_names if sync else []:
        print_log(f'[benchmark] synchronisation analysis of {name}',
                  logger='current')
        reports[name] = sync_reports(
            configs[names.index(name)], ckpt, domains, seeds[0], name,
            work_dir, table.sync_steps, table.sync_interval, resume=True)
    groups = {key: [d['name'] for d in table[key]]
              for key in ('target_domains', 'structural_domains')
              if key in table}
    groups['all'] = [d['name'] for d in domains]
    results = with_oracle(results)
    choices = policy_choices(work_dir, names, seeds, results['domains'])
    text = (f'# Benchmark: {", ".join(names)} on {domains_key}, seeds '
            f'{seeds}\n\nSource model: `{ckpt}`. delta_m against '
            'source-only; mean ± std over seeds of the mean over domains. '
            'Task columns: mean relative change against source-only '
            f'(up = better). `{ORACLE}`: per domain and seed the better of '
            'source-only and BN-adapt, chosen with the test labels (the '
            'ceiling of a label-free choice between them, not a '
            'method).\n\n' + summary_table(results, groups, reports) +
            '\n\n## Per domain\n\ndelta_m (%), mean over seeds; in '
            'brackets the normalisation policy\'s choice: its mean weight '
            'of the batch\'s own statistics over the layers (0: the source '
            'statistics, 1: the batch\'s).\n\n' +
            domain_table(results, choices) + '\n')
    if continual:
        text += ('\n## Continual stream\n\nEvery domain in one sequence '
                 'without reset, in this order; delta_m against source-only '
                 'per domain, mean ± std over seeds.\n\n' +
                 stream_table(results) + '\n')
    path = osp.join(work_dir, 'benchmark.md')
    atomic_write_bytes(text.encode(), path)
    print_log(f'{text}\nbenchmark table: {path}', logger='current')
    return text
