"""tools/benchmark_methods.py on the tiny setup: a method table of BN-adapt
and S4T, two domains, one seed, resumed."""
import json
import os
import os.path as osp

import numpy as np
import pytest
from mmengine.config import Config

from ..test_tta.tiny_runner import save_tiny_checkpoint, tiny_tta_cfg
from .utils import load_tool


def _tool():
    return load_tool('benchmark_methods')


def _table(tmp_path):
    source_dir = tmp_path / 'source'
    os.makedirs(source_dir)
    ckpt = save_tiny_checkpoint(source_dir / 'iter_1.pth')
    (source_dir / 'last_checkpoint').write_text(ckpt)
    cfg = tiny_tta_cfg(tmp_path / 'unused', tmp_path / 'cache', steps=2)
    cfg.pop('custom_hooks')
    s4t = dict(type='S4TAdapter', optimizer=dict(type='SGD', lr=0.05))
    cfg.merge_from_dict(dict(
        source_work_dir=str(source_dir), train_config='unused.py',
        domains_key='target_domains', seeds=[0],
        protocol=dict(type='paper', steps=2, num_batches=1, seed=0),
        sync_methods=['s4t'], sync_steps=2, sync_interval=1,
        methods=dict(bn_adapt=dict(type='NormStatsAdapter'), s4t=s4t,
                     s4t_grad_only=dict(s4t, norm_policy='source_stats'))))
    path = str(tmp_path / 'table.py')
    cfg.dump(path)
    return path, ckpt


def test_benchmark_writes_configs_table_and_resumes(tmp_path):
    table, ckpt = _table(tmp_path)
    work = tmp_path / 'bench'
    tool = _tool()
    tool.main([table, '--work-dir', str(work)])

    written = Config.fromfile(str(work / 'configs' / 's4t_grad_only.py'))
    (hook, ) = written.custom_hooks
    assert hook.adapter.norm_policy == 'source_stats'
    assert 'methods' not in written
    with open(work / 'comparison.json') as f:
        results = json.load(f)
    assert list(results['methods']) == ['bn_adapt', 's4t', 's4t_grad_only']
    text = (work / 'benchmark.md').read_text()
    row = next(line for line in text.splitlines()
               if line.startswith('| all | s4t |'))
    cells = [c.strip() for c in row.strip('|').split('|')]
    methods = results['methods']
    mean = {name: np.mean([methods[name]['summary'][d]['delta_m']
                           for d in results['domains']])
            for name in methods}
    assert float(cells[2].split(' ')[0]) == pytest.approx(mean['s4t'],
                                                          abs=0.01)
    assert float(cells[3]) == pytest.approx(mean['s4t'] -
                                            mean['bn_adapt'], abs=0.01)
    gains = [methods['s4t']['summary'][d]['delta_m'] -
             methods['bn_adapt']['summary'][d]['delta_m']
             for d in results['domains']]
    assert float(cells[5]) == pytest.approx(np.median(gains), abs=0.01)
    assert cells[6] == f'{sum(g > 0 for g in gains)}/2'
    assert (work / 'sync' / 's4t.json').is_file()
    assert '| s4t | warm | depth ' in text

    # a second run finds every unit done and writes the same table
    stamp = osp.getmtime(work / 'sync' / 's4t.json')
    tool.main([table, '--work-dir', str(work)])
    assert (work / 'benchmark.md').read_text() == text
    assert osp.getmtime(work / 'sync' / 's4t.json') == stamp


def test_unknown_method_names_the_table(tmp_path):
    table, _ = _table(tmp_path)
    with pytest.raises(KeyError, match=r"unknown method\(s\) \['sar'\]"):
        _tool().main([table, '--methods', 'sar', '--work-dir',
                      str(tmp_path / 'w')])
