"""The adapters step through an mmengine optimizer wrapper."""
import pytest
import torch
from mmengine.optim import OptimWrapper

from s4t_mm.engine.optimizers import AutocastOptimWrapper
from s4t_mm.registry import ADAPTERS, MODELS
from ..test_models.utils import synthetic_batch, tiny_model_cfg


def _bound(**kwargs):
    torch.manual_seed(0)
    model = MODELS.build(tiny_model_cfg(relation=True))
    adapter = ADAPTERS.build(dict(type='S4TAdapter', loss_weight=1.0,
                                  **kwargs)).bind(model)
    return adapter, model.data_preprocessor(synthetic_batch())['inputs']


def _moved(adapter, before) -> float:
    return sum(float((p.detach() - b).norm())
               for b, (_, p) in zip(before, adapter.adapted))


def test_the_optimizer_is_built_by_mmengine_over_the_adapted_parameters():
    adapter, _ = _bound(optimizer=dict(type='SGD', lr=0.1))
    assert type(adapter.optim_wrapper) is OptimWrapper
    wrapped = {id(p) for g in adapter.optimizer.param_groups
               for p in g['params']}
    assert wrapped == {id(p) for _, p in adapter.adapted}
    bf16, _ = _bound(amp='bf16')
    assert isinstance(bf16.optim_wrapper, AutocastOptimWrapper)
    with pytest.raises(ValueError, match="amp='bf16' chooses the optimizer"):
        ADAPTERS.build(dict(type='S4TAdapter', amp='bf16',
                            optim_wrapper=dict(type='OptimWrapper')))


def test_gradient_clipping_and_accumulation_come_from_the_wrapper():
    free, inputs = _bound(optimizer=dict(type='SGD', lr=0.1))
    before = [p.detach().clone() for _, p in free.adapted]
    free.adapt(inputs, steps=1)
    clipped, _ = _bound(optimizer=dict(type='SGD', lr=0.1),
                        optim_wrapper=dict(clip_grad=dict(max_norm=1e-3)))
    clipped.adapt(inputs, steps=1)
    # SGD moves by lr * gradient: at most lr * max_norm once clipped
    assert _moved(clipped, before) <= 0.1 * 1e-3 * len(before) + 1e-6
    assert _moved(free, before) > 10 * _moved(clipped, before)

    accumulated, _ = _bound(optimizer=dict(type='SGD', lr=0.1),
                            optim_wrapper=dict(accumulative_counts=2))
    accumulated.adapt(inputs, steps=1)
    assert _moved(accumulated, before) == 0  # gradients accumulate
    accumulated.adapt(inputs, steps=1)
    assert _moved(accumulated, before) > 0
    assert accumulated.stats['steps'] == 2


def test_paramwise_custom_keys_match_the_adapted_names():
    adapter, inputs = _bound(
        optimizer=dict(type='SGD', lr=0.1),
        optim_wrapper=dict(paramwise_cfg=dict(
            custom_keys={'backbone': dict(lr_mult=0.0)})))
    before = {n: p.detach().clone() for n, p in adapter.adapted}
    adapter.adapt(inputs, steps=1)
    moved = {n for n, p in adapter.adapted if not torch.equal(p, before[n])}
    assert moved and not any(n.startswith('backbone.') for n in moved)
