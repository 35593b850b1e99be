"""tools/analysis_tools/relation_report.py on the tiny setup: one Runner
walks the source split and a target domain with its loop's session."""
import glob
import json
import os.path as osp
import sys

import numpy as np

from ..test_tta.tiny_runner import save_tiny_checkpoint, tiny_tta_cfg
from .utils import load_tool


def test_before_and_after_adaptation_per_domain(tmp_path, monkeypatch):
    ckpt = save_tiny_checkpoint(tmp_path / 'tiny.pth')
    # only the adaptation hook runs: no sync plot among the drawings below
    cfg = tiny_tta_cfg(tmp_path / 'cfg_work', tmp_path / 'cache',
                       extra_hooks=[dict(type='TaskSyncHook')])
    cfg.custom_hooks[0]['protocol'] = dict(type='episodic', steps=2)
    path = str(tmp_path / 'episodic.py')
    cfg.dump(path)
    work = tmp_path / 'work'
    monkeypatch.setattr(sys, 'argv', [
        'relation_report.py', path, '--checkpoint', ckpt, '--work-dir',
        str(work), '--num-batches', '2', '--only', 'cool', '--seeds', '3'])
    load_tool('relation_report').main()

    out = work / 'relation_report'
    with open(out / 'relations.json') as f:
        report = json.load(f)
    assert sorted(report['domains']) == ['cool', 'source']
    assert report['seed'] == 3 and report['protocol']['type'] == 'episodic'
    for name, domain in report['domains'].items():
        # two batches, two steps each, from the source weights
        assert domain['adaptation_steps'] == 4
        before = np.array(domain['before']['matrix'], dtype=float)
        after = np.array(domain['after']['matrix'], dtype=float)
        assert domain['before']['num_images'] == 8
        assert not np.allclose(before, after)
        np.testing.assert_allclose(domain['difference'], after - before,
                                   atol=1e-6)
        assert (out / f'{name}.png').read_bytes()[:4] == b'\x89PNG'
    # every domain starts from the source weights
    assert report['domains']['source']['mean_abs_to_source_before'][
        'before'] == 0.0
    # the heat maps also went to the runner's visualizer
    drawn = sorted(osp.basename(p) for p in glob.glob(
        str(work / '*' / 'vis_data' / 'vis_image' / '*.png')))
    assert drawn == ['relation_report_cool_0.png',
                     'relation_report_source_0.png']
