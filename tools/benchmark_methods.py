"""Benchmark every method of a method table on every domain and seed.

    python tools/benchmark_methods.py TABLE [--methods NAME ...]
        [--seeds 0 1 2] [--domains KEY] [--work-dir DIR] [--no-sync]
        [--cfg-options k=v ...]

TABLE is a config like ``configs/benchmark/synthetic_methods.py``: the
model and data of a source config, ``methods`` (name -> adapter config),
``protocol``, ``seeds``, ``domains_key``, ``source_work_dir`` and
``train_config`` (how the source model is made) and ``sync_methods``.

1. Trains the source model with ``tools/train.py train_config`` unless
   ``source_work_dir`` already holds a finished checkpoint.
2. Writes one test-time adaptation config per method into
   ``WORK/configs/<name>.py`` (the record of exactly what ran).
3. Runs ``tools/compare_methods.py`` on them with ``--resume``: killed and
   run again, the benchmark skips every finished (method, seed, domain).
4. Runs the synchronisation analysis (per-task metric along the steps,
   seed = the first seed) of ``sync_methods`` on every domain; each
   method's report is kept in ``WORK/sync/<name>.json`` and not redone.
5. Writes ``WORK/benchmark.md``: per method and domain group, mean delta_m
   over domains (mean ± std over seeds), its gain beyond BN-adapt, each
   task's mean change against source-only, and the sync spreads.
"""
import argparse
import importlib.util
import os
import os.path as osp
import subprocess
import sys
from typing import Dict, List, Sequence

import numpy as np
from mmengine.config import Config
from mmengine.fileio import load
from mmengine.logging import print_log
from mmengine.runner import find_latest_checkpoint

from s4t_mm.apis import check_domains
from s4t_mm.engine.checkpoint import atomic_write_bytes
from s4t_mm.engine.launch import add_common_args
from s4t_mm.evaluation.functional import metric_direction
from s4t_mm.apis.sync_analysis import run_sync_analysis
from s4t_mm.utils import dump_json_atomic, register_all_modules

TOOLS = osp.dirname(osp.abspath(__file__))
BN_ADAPT = 'bn_adapt'


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Every method x every domain x seeds, resumable')
    parser.add_argument('table', help='method table config')
    parser.add_argument('--methods', nargs='+',
                        help='run only these methods of the table')
    parser.add_argument('--no-sync', action='store_true',
                        help='skip the synchronisation analysis')
    # defaults: the table's seeds and domains_key, work_dirs/<table name>
    add_common_args(parser, seeds=None, domains=None)
    return parser.parse_args(argv)


def source_checkpoint(table: Config) -> str:
    """The source model's latest checkpoint; trained first if missing."""
    work_dir = table.source_work_dir
    ckpt = find_latest_checkpoint(work_dir) if osp.isdir(work_dir) else None
    if ckpt is None:
        print_log(f'[benchmark] training the source model '
                  f'({table.train_config}) into {work_dir}',
                  logger='current')
        subprocess.run([sys.executable, osp.join(TOOLS, 'train.py'),
                        table.train_config, '--work-dir', work_dir],
                       check=True)
        ckpt = find_latest_checkpoint(work_dir)
        if ckpt is None:
            raise RuntimeError(f'training {table.train_config} left no '
                               f'checkpoint in {work_dir}')
    print_log(f'[benchmark] source checkpoint {ckpt}', logger='current')
    return ckpt


def method_configs(table: Config, names: Sequence[str],
                   out_dir: str) -> List[str]:
    """One config file per method: the table with only that method's
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
        cfg.dump(path)
        paths.append(path)
    return paths


def _load_compare_methods():
    spec = importlib.util.spec_from_file_location(
        'compare_methods', osp.join(TOOLS, 'compare_methods.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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


def summary_table(results: dict, groups: Dict[str, List[str]],
                  sync: Dict[str, dict]) -> str:
    """Markdown: one row per method and domain group. Medians beside the
    means, since a domain where source-only scores near 0 on one metric
    makes its relative change, and so the mean delta_m, explode. A domain
    where a method diverged is left out of that method's numbers (and of
    its comparison with BN-adapt) and counted in the last column."""
    keys = results['keys']
    source = next(iter(results['source'].values()))
    methods = results['methods']
    header = (['domains', 'method', 'mean delta_m (%)',
               'beyond BN-adapt (pp)', 'median delta_m (%)',
               'median beyond BN-adapt (pp)', 'better than BN-adapt on'] +
              [f'{k} (%)' for k in keys] +
              ['worst domain delta_m', 'diverged'])
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


def main(argv=None):
    args = parse_args(argv)
    register_all_modules(init_default_scope=False)
    table = Config.fromfile(args.table)
    if args.cfg_options is not None:
        table.merge_from_dict(args.cfg_options)
    work_dir = args.work_dir or osp.join(
        'work_dirs', osp.splitext(osp.basename(args.table))[0])
    names = args.methods or list(table.methods)
    seeds = args.seeds or list(table.seeds)
    domains_key = args.domains or table.domains_key
    domains = check_domains(table, domains_key)
    ckpt = source_checkpoint(table)
    paths = method_configs(table, names, osp.join(work_dir, 'configs'))
    compare_methods = _load_compare_methods()
    results = compare_methods.main(
        ['--configs', *paths, '--names', *names, '--checkpoints', ckpt,
         '--seeds', *map(str, seeds), '--domains', domains_key,
         '--work-dir', work_dir, '--launcher', args.launcher, '--resume'])
    sync = {}
    if not args.no_sync:
        for name in [n for n in table.get('sync_methods', []) if n in names]:
            out = osp.join(work_dir, 'sync', f'{name}.json')
            if osp.isfile(out):
                sync[name] = load(out)
                continue
            print_log(f'[benchmark] synchronisation analysis of {name}',
                      logger='current')
            sync[name] = run_sync_analysis(
                Config.fromfile(paths[names.index(name)]), ckpt, domains,
                steps=table.sync_steps, interval=table.sync_interval,
                seed=seeds[0], work_dir=osp.join(work_dir, name),
                name=name, plot_dir=osp.join(work_dir, 'sync'))
            dump_json_atomic(sync[name], out)
    groups = {key: [d['name'] for d in table[key]]
              for key in ('target_domains', 'structural_domains')
              if key in table}
    groups['all'] = [d['name'] for d in domains]
    text = (f'# Benchmark: {", ".join(names)} on {domains_key}, seeds '
            f'{seeds}\n\nSource model: `{ckpt}`. delta_m against '
            'source-only; mean ± std over seeds of the mean over domains. '
            'Task columns: mean relative change against source-only '
            '(up = better).\n\n' + summary_table(results, groups, sync) +
            '\n')
    path = osp.join(work_dir, 'benchmark.md')
    atomic_write_bytes(text.encode(), path)
    print_log(f'{text}\nbenchmark table: {path}', logger='current')


if __name__ == '__main__':
    main()
