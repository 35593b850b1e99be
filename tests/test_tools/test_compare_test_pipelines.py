"""tools/analysis_tools/compare_test_pipelines.py on the tiny setup: the
plain test pipeline against itself and against the canonical camera."""
import json

import pytest

from s4t_mm.evaluation.multi_task_gain import delta_m
from ..test_tta.tiny_runner import save_tiny_checkpoint, tiny_tta_cfg
from .utils import load_tool


def _configs(tmp_path):
    plain = tiny_tta_cfg(tmp_path / 'work', tmp_path / 'cache')
    plain.pop('custom_hooks')
    plain.target_domains = [dict(name='wide', dataset=dict(
        style='source', geometry='wide_fov_low'))]
    canonical = plain.copy()
    canonical.test_dataloader = dict(
        plain.test_dataloader, batch_size=1,
        dataset=dict(plain.test_dataloader.dataset, pipeline=[
            dict(type='CanonicalCamera', focal_length=25.0),
            dict(type='PackMultiTaskInputs')]))
    paths = []
    for name, cfg in (('plain', plain), ('canonical', canonical)):
        paths.append(str(tmp_path / f'{name}.py'))
        cfg.dump(paths[-1])
    return paths


def test_pipelines_against_the_first(tmp_path):
    plain, canonical = _configs(tmp_path)
    ckpt = save_tiny_checkpoint(tmp_path / 'tiny.pth')
    work = tmp_path / 'cmp'
    result = load_tool('compare_test_pipelines').main(
        [plain, plain, canonical, '--names', 'a', 'b', 'canonical',
         '--checkpoint', ckpt, '--domains', 'target_domains',
         '--work-dir', str(work)])
    with open(work / 'test_pipelines.json') as f:
        assert json.load(f)['delta_m'] == result['delta_m']
    assert result['delta_m']['b'] == {'wide': 0.0}
    metrics = result['metrics']
    assert metrics['canonical']['wide'] != metrics['a']['wide']
    assert result['delta_m']['canonical']['wide'] == pytest.approx(
        delta_m(metrics['canonical']['wide'], metrics['a']['wide']))
    tool = load_tool('compare_test_pipelines')
    with pytest.raises(ValueError, match='2 names for 1 configs'):
        tool.main([plain, '--names', 'x', 'y', '--checkpoint', ckpt])
    with pytest.raises(ValueError, match='need two or more configs'):
        tool.main([plain, '--checkpoint', ckpt])
