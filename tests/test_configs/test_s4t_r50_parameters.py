"""Faithfulness gate: the reference S4T architecture, parameter for
parameter."""
import os.path as osp

import pytest
from mmengine.config import Config

from s4t_mm.registry import MODELS

CONFIG_DIR = osp.join(osp.dirname(__file__), '..', '..', 'configs')


def _count(module):
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize('config', ['s4t/nyud_taskonomy_r50.py'])
def test_reference_parameter_counts(config):
    cfg = Config.fromfile(osp.join(CONFIG_DIR, config))
    model = MODELS.build(cfg.model)
    rel = model.relation_predictor
    assert _count(model.backbone) == 23_508_032
    assert _count(model.heads) == 46_092
    assert _count(rel.compressor) == 983_296
    assert _count(rel.aux_heads) == 780
    assert _count(rel.autoencoder) == 4_731_200
    assert _count(model) == 29_269_400


@pytest.mark.parametrize('config,tasks,combiner', [
    ('s4t/pascal_taskonomy_r50.py', ['edge', 'normals', 'semseg'],
     'TaskWeightCombiner'),
    ('s4t/taskonomy_nyud_r50.py', ['depth', 'edge', 'normals', 'semseg'],
     'UncertaintyWeightCombiner'),
])
def test_other_pairs_build(config, tasks, combiner):
    cfg = Config.fromfile(osp.join(CONFIG_DIR, config))
    model = MODELS.build(cfg.model)
    assert model.tasks == tasks
    assert type(model.loss_combiner).__name__ == combiner
    assert model.relation_predictor.tasks == tasks
    assert cfg.custom_hooks[0]['type'] == 'TestTimeAdaptHook'
