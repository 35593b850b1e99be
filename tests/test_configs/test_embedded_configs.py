"""The embedded-world adaptation configs and method tables load, their
adapters build, and the demo runs the settings the benchmark reports."""
import glob
import os.path as osp

import pytest
from mmengine.config import Config

from s4t_mm.apis import check_domains, tta_hook_cfg
from s4t_mm.registry import ADAPTERS

ROOT = osp.join(osp.dirname(__file__), '..', '..', 'configs')
TTA_CONFIGS = sorted(
    glob.glob(osp.join(ROOT, 's4t', 'synthetic_r18_*_tta.py')) +
    glob.glob(osp.join(ROOT, 'baselines', 'synthetic_r18_*_tta.py')))
TABLES = sorted(glob.glob(osp.join(ROOT, 'benchmark', '*.py')))


@pytest.mark.parametrize('path', TTA_CONFIGS, ids=osp.basename)
def test_adaptation_config_builds_its_adapter(path):
    cfg = Config.fromfile(path)
    hook = tta_hook_cfg(cfg)
    ADAPTERS.build(dict(hook['adapter'], _scope_='s4t_mm'))
    assert check_domains(cfg)
    assert cfg.test_evaluator.edge_tolerance_f


@pytest.mark.parametrize('path', TABLES, ids=osp.basename)
def test_method_table_builds_every_adapter(path):
    table = Config.fromfile(path)
    for name, adapter in table.methods.items():
        ADAPTERS.build(dict(adapter, _scope_='s4t_mm'))
    assert check_domains(table, table.domains_key)
    assert set(table.get('sync_methods', [])) <= set(table.methods)


def test_shipped_configs_are_the_benchmarks_rows():
    table = Config.fromfile(osp.join(ROOT, 'benchmark',
                                     'synthetic_methods.py'))
    for config, name in (('synthetic_r18_s4t_tta.py', 's4t'),
                         ('synthetic_r18_s4t_ours_tta.py', 's4t_ours')):
        hook = tta_hook_cfg(Config.fromfile(osp.join(ROOT, 's4t', config)))
        assert hook['adapter'] == table.methods[name]
        assert hook['protocol'] == table.protocol
    bn = tta_hook_cfg(Config.fromfile(osp.join(
        ROOT, 'baselines', 'synthetic_r18_bn_adapt_tta.py')))
    assert bn['adapter'] == table.methods['bn_adapt']
    # every gradient method also runs with the source statistics
    for name, adapter in table.methods.items():
        if name.endswith('_grad_only'):
            base = table.methods[name[:-len('_grad_only')]]
            assert adapter == dict(base, norm_policy='source_stats')


def test_demo_runs_what_the_benchmark_reports():
    """What ``bash tools/demo.sh`` runs (configs/benchmark/demo.py): each
    method is the benchmark's row of that name and the adapter of a
    shipped adaptation config, with the benchmark's protocol, on benchmark
    domains, from the 400-iteration source model."""
    with open(osp.join(ROOT, '..', 'tools', 'demo.sh')) as f:
        assert 'tools/benchmark_methods.py configs/benchmark/demo.py' in \
            f.read()
    demo = Config.fromfile(osp.join(ROOT, 'benchmark', 'demo.py'))
    table = Config.fromfile(osp.join(ROOT, 'benchmark',
                                     'synthetic_methods.py'))
    hooks = {osp.basename(p): tta_hook_cfg(Config.fromfile(p))
             for p in TTA_CONFIGS}
    assert demo.methods
    for name, adapter in demo.methods.items():
        assert adapter == table.methods[name], name
        shipped = [p for p, hook in hooks.items()
                   if hook['adapter'] == adapter and
                   hook['protocol'] == demo.protocol]
        assert shipped, f'no shipped config runs the demo\'s {name}'
    assert demo.protocol == table.protocol
    assert demo.train_config == 'configs/s4t/synthetic_r18_source.py'
    assert demo.source_work_dir == 'work_dirs/synthetic_r18_source'
    assert demo.seeds == [0]
    reported = [d['name'] for d in check_domains(table, table.domains_key)]
    ran = [d['name'] for d in check_domains(demo, demo.domains_key)]
    assert ran and set(ran) <= set(reported)


def test_safe_configs_are_the_safe_tables_rows():
    """The shipped safe configs carry what validation chose in
    configs/benchmark/safe_policies.py: the shift-response policy (the
    gradient methods step only on a batch it adapts)."""
    table = Config.fromfile(osp.join(ROOT, 'benchmark', 'safe_policies.py'))
    rows = dict(bn_adapt_safe=table.methods['shift_response'],
                s4t_safe=table.methods['s4t_shift_response'])
    for folder, config, name in (
            ('s4t', 'synthetic_r18_s4t_safe_tta.py', 's4t_safe'),
            ('baselines', 'synthetic_r18_bn_adapt_safe_tta.py',
             'bn_adapt_safe')):
        hook = tta_hook_cfg(Config.fromfile(osp.join(ROOT, folder, config)))
        assert hook['adapter'] == rows[name], config
        assert hook['protocol'] == table.protocol
    tent = tta_hook_cfg(Config.fromfile(osp.join(
        ROOT, 'baselines', 'synthetic_r18_tent_safe_tta.py')))['adapter']
    s4t = rows['s4t_safe']
    assert tent['type'] == 'TentAdapter'
    assert tent['norm_policy'] == s4t['norm_policy'] == dict(
        type='shift_response', hard=True, live_steps=True)
    assert tent['min_target_weight'] == s4t['min_target_weight'] == 0.5
