"""tools/compare_methods.py on the tiny setup: two methods, two seeds, two
target domains, with the synchronisation analysis; and the helpers of
s4t_mm.apis.comparison behind it."""
import json
import os.path as osp
import re

import pytest

from s4t_mm.apis.comparison import checkpoint_labels, compare, method_names
from ..test_tta.tiny_runner import save_tiny_checkpoint, tiny_tta_cfg
from .utils import load_tool


@pytest.fixture(scope='module')
def tool():
    return load_tool('compare_methods')


def test_compare_two_methods(tool, tmp_path):
    ckpt = save_tiny_checkpoint(tmp_path / 'tiny.pth')
    configs = []
    for name, adapter in (
            ('s4t', dict(type='S4TAdapter',
                         optimizer=dict(type='SGD', lr=0.05))),
            ('tent', dict(type='TentAdapter',
                          optimizer=dict(type='SGD', lr=0.05)))):
        cfg = tiny_tta_cfg(tmp_path / 'unused', tmp_path / 'cache',
                           adapter=adapter, steps=2)
        path = str(tmp_path / f'{name}.py')
        cfg.dump(path)
        configs.append(path)
    out = tmp_path / 'out'
    results = tool.main([
        '--configs', *configs, '--checkpoints', ckpt, '--seeds', '0', '1',
        '--out-dir', str(out), '--sync-steps', '2', '--sync-interval', '1'])

    assert list(results['methods']) == ['s4t', 'tent']
    assert results['domains'] == ['warm', 'cool']
    assert results['keys'] == ['semseg/mIoU', 'depth/rmse', 'normals/mean',
                               'edge/l1']
    s4t = results['methods']['s4t']
    assert len(s4t['summary']['warm']['delta_m_per_seed']) == 2
    assert s4t['sync']['cool']['steps'] == [0, 1, 2]
    # one checkpoint: delta_m against it is delta_m against the reference
    assert s4t['summary']['warm']['delta_m_vs_reference'] == pytest.approx(
        s4t['summary']['warm']['delta_m'])

    with open(out / 'comparison.json') as f:
        assert json.load(f)['methods']['tent']['config'] == configs[1]
    table = (out / 'comparison.md').read_text()
    rows = [line for line in table.splitlines()
            if line.startswith('| warm') or line.startswith('| cool')]
    assert len(rows) == 2 * 3  # source-only, s4t, tent per domain
    assert rows[0].startswith('| warm | source-only (tiny) |')
    assert re.search(r'^\| warm \| s4t \|( [0-9.]+ ± [0-9.]+ \|){4} '
                     r'[+-][0-9.]+ ± [0-9.]+ \| semseg \d+, depth \d+, '
                     r'normals \d+, edge \d+ \(\d+\) \|$', rows[1])
    assert osp.getsize(out / 'sync' / 'sync_s4t_warm.png') > 0
    assert '| method | mean delta_m over domains (%) | best on |' in table


def test_checkpoint_labels_and_names():
    assert list(checkpoint_labels(['a/x.pth', 'b/y.pth', 'a/x.pth'])
                .values()) == ['x', 'y']
    assert list(checkpoint_labels(['a/iter_8.pth', 'b/iter_8.pth'])
                .values()) == ['a', 'b']
    assert method_names(['c/s4t_tta.py']) == ['s4t_tta']
    with pytest.raises(ValueError, match='must be unique'):
        method_names(['a/x.py', 'b/x.py'])


def test_checkpoints_must_match_configs(tmp_path):
    cfg = tiny_tta_cfg(tmp_path, tmp_path / 'cache')
    with pytest.raises(ValueError, match='give one per config or one for '
                       'all'):
        compare([cfg] * 3, ['a', 'b', 'c'], ['a', 'b', 'c'],
                ['x.pth', 'y.pth'], [0], 'target_domains', str(tmp_path))
    cfg.custom_hooks = []
    with pytest.raises(ValueError, match='has no TestTimeAdaptHook'):
        compare([cfg], ['a.py'], ['a'], ['x.pth'], [0], 'target_domains',
                str(tmp_path))
