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
from typing import List, Optional, Sequence

from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.runner import find_latest_checkpoint

from s4t_mm.fileio import atomic_write_bytes
from s4t_mm.engine.launch import setup_launcher
from s4t_mm.engine.runner import check_domains
from .adaptation_config import carries_state_across_domains
from .benchmark_tables import (ORACLE, domain_table, policy_choices,
                               stream_table, summary_table, with_oracle)
from .comparison import compare, write_comparison
from .norm_calibration import calibrate_checkpoint
from .sync_analysis import sync_reports
from .training import train


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
