import pytest
import torch
from mmengine.config import Config

from s4t_mm.engine.launch import enable_amp
from s4t_mm.registry import MODELS, OPTIM_WRAPPERS
from ..test_models.utils import synthetic_batch, tiny_model_cfg


def test_bf16_training_step_on_cpu():
    model = MODELS.build(tiny_model_cfg(relation=True))
    wrapper = OPTIM_WRAPPERS.build(dict(
        type='AutocastOptimWrapper', dtype='bfloat16',
        optimizer=torch.optim.Adam(model.parameters(), lr=1e-2)))
    seen = []
    handle = model.backbone.register_forward_hook(
        lambda m, i, o: seen.append(o[0].dtype))
    model.train()
    first = model.train_step(synthetic_batch(), wrapper)['loss'].item()
    for _ in range(10):
        last = model.train_step(synthetic_batch(), wrapper)['loss'].item()
    handle.remove()
    assert seen[0] == torch.bfloat16
    assert last < first
    assert all(p.dtype == torch.float32 for p in model.parameters())


def test_enable_amp_picks_the_wrapper_for_the_device():
    cfg = Config(dict(optim_wrapper=dict(type='OptimWrapper', optimizer=dict(
        type='SGD', lr=0.1))))
    enable_amp(cfg)
    if torch.cuda.is_available():
        assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
    else:
        assert cfg.optim_wrapper.type == 'AutocastOptimWrapper'
        assert cfg.optim_wrapper.dtype == 'bfloat16'
    cfg = Config(dict(optim_wrapper=dict(type='ApexOptimWrapper')))
    with pytest.raises(ValueError, match='--amp needs optim_wrapper.type'):
        enable_amp(cfg)


def test_bad_dtype():
    with pytest.raises(ValueError, match="dtype must be 'bfloat16' or "
                       "'float16'"):
        OPTIM_WRAPPERS.build(dict(type='AutocastOptimWrapper', dtype='int8',
                                  optimizer=torch.optim.SGD(
                                      [torch.nn.Parameter(torch.ones(1))],
                                      lr=0.1)))
