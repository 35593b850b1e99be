"""tools/test.py (mmseg's, what ``mim test`` runs): with an adaptation
config it is the adapted evaluation of the config's test split, the same
numbers tools/test_time_adapt.py gives for that split as a target domain;
without the hook it is source-only."""
import json

import pytest

from ..test_tta.tiny_runner import save_tiny_checkpoint, tiny_tta_cfg
from .utils import load_tool


def test_the_adapted_and_the_source_evaluation(tmp_path):
    ckpt = save_tiny_checkpoint(tmp_path / 'tiny.pth')
    # the test split is the 'warm' target domain's data
    cfg = tiny_tta_cfg(tmp_path / 'work', tmp_path / 'cache')
    path = str(tmp_path / 'tta.py')
    cfg.dump(path)
    test = load_tool('test')
    adapted = test.main([path, ckpt, '--work-dir', str(tmp_path / 'a')])
    source = test.main([path, '--checkpoint', ckpt, '--work-dir',
                        str(tmp_path / 's'), '--cfg-options',
                        'custom_hooks=[]'])
    out = tmp_path / 'tta.json'
    load_tool('test_time_adapt').main([
        path, '--checkpoint', ckpt, '--work-dir', str(tmp_path / 't'),
        '--out', str(out), '--seeds', '0'])
    warm = json.loads(out.read_text())['domains']['warm']
    assert adapted == pytest.approx(warm['adapted'], rel=1e-12)
    assert source == pytest.approx(warm['source'], rel=1e-12)
    assert adapted['semseg/mIoU'] != source['semseg/mIoU']
