"""tools/analysis_tools/diagnose_adaptation.py on the tiny setup."""
import json
import math

import pytest

from ..test_tta.tiny_runner import save_tiny_checkpoint, tiny_tta_cfg
from .utils import load_tool


def _tool():
    return load_tool('diagnose_adaptation')


def test_gradient_shares_curve_and_relation_scores(tmp_path):
    ckpt = save_tiny_checkpoint(tmp_path / 'tiny.pth')
    cfg = tiny_tta_cfg(tmp_path / 'work', tmp_path / 'cache', adapter=dict(
        type='S4TAdapter', optimizer=dict(type='SGD', lr=0.5)))
    path = str(tmp_path / 's4t.py')
    cfg.dump(path)
    out = tmp_path / 'diag.json'
    reports = _tool().main([path, '--checkpoint', ckpt, '--domains',
                            'target_domains', '--only', 'cool', '--steps',
                            '4', '--interval', '2', '--out', str(out)])
    (report, ) = reports
    assert report['domain'] == 'cool'
    shares = report['gradient_shares']
    assert set(shares) == {'semseg.s4t', 'depth.s4t', 'normals.s4t',
                           'edge.s4t'}
    assert sum(v['share'] for v in shares.values()) == pytest.approx(1.0)
    assert all(v['grad_norm'] > 0 for v in shares.values())
    assert [p['step'] for p in report['curve']] == [0, 2, 4]
    assert all(p['consistency'] > 0 for p in report['curve'])
    first, last = report['curve'][0], report['curve'][-1]
    for point in (first, last):
        assert 0 <= point['collapse/edge/mean'] <= 1
        assert point['collapse/depth/std'] >= 0
        assert 0 < point['collapse/semseg/top_class_share'] <= 1
        assert 0 <= point['collapse/semseg/class_entropy_bits'] <= \
            math.log2(6)
    # lr 0.5 moves the model: the batch's metrics change along the curve
    assert first['normals/mean'] != last['normals/mean']
    # the reconstruction is scored as a prediction of its own
    rel = report['relation_vs_main']
    assert rel['main']['semseg/mIoU'] == pytest.approx(
        first['semseg/mIoU'])
    assert rel['relation']['depth/rmse'] != rel['main']['depth/rmse']
    with open(out) as f:
        assert json.load(f)[0]['domain'] == 'cool'


@pytest.mark.parametrize('tool', ['diagnose_adaptation', 'analyze_sync',
                                  'relation_report'])
def test_an_unknown_only_name_fails_listing_the_valid_ones(tmp_path, tool):
    """A typo in ``--only`` must not write an empty result."""
    ckpt = save_tiny_checkpoint(tmp_path / 'tiny.pth')
    cfg = tiny_tta_cfg(tmp_path / 'work', tmp_path / 'cache')
    path = str(tmp_path / 'tta.py')
    cfg.dump(path)
    with pytest.raises(ValueError, match=r"unknown domain\(s\) \['col'\]; "
                       r"target_domains has \['warm', 'cool'\]"):
        load_tool(tool).main([path, '--checkpoint', ckpt, '--domains',
                              'target_domains', '--only', 'cool', 'col',
                              '--work-dir', str(tmp_path / 'out')])
    assert not (tmp_path / 'out').exists() or not any(
        p.suffix == '.json' for p in (tmp_path / 'out').rglob('*'))
