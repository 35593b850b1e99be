"""SAR: its two reliability filters, its sharpness-aware step, its model
recovery, and a run on the tiny multi-task model."""
import copy
import math

import pytest
import torch
import torch.nn as nn
from torch.func import functional_call

from s4t_mm.registry import ADAPTERS, MODELS
from s4t_mm.tta.adapters.sar_adapter import softmax_entropy
from ..test_models.utils import synthetic_batch, tiny_model_cfg


class ConvBN(nn.Module):
    """A 1x1 convolution and a BatchNorm whose outputs are 4-class
    logits: the smallest model with normalisation parameters to adapt."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(3, 4, 1)
        self.bn = nn.BatchNorm2d(4)
        with torch.no_grad():
            self.bn.weight.copy_(torch.tensor([3.0, 0.5, 2.0, 1.0]))
            self.bn.bias.copy_(torch.tensor([0.3, -0.2, 0.1, 0.0]))

    def forward(self, inputs, mode='tensor'):
        return self.bn(self.conv(inputs))


def _inputs(seed=0, n=4, size=5):
    return torch.randn(n, 3, size, size,
                       generator=torch.Generator().manual_seed(seed))


def _masked_mean(values, mask):
    return (values * mask).sum() / mask.sum().clamp(min=1)


def test_filters_keep_pixels_reliable_at_both_points():
    model = MODELS.build(tiny_model_cfg())
    adapter = ADAPTERS.build(dict(type='SarAdapter')).bind(model)
    tie = adapter.adapted[0][1]  # an adapted tensor, so the loss has a grad
    confident = torch.zeros(2, 4, 2, 4)
    confident[:, 0] = 10.0
    first = confident.clone()
    first[1] = 0.0  # image 1 uniform at theta: dropped by the first filter
    second = confident.clone()
    second[0, :, :, 2:] = 0.0  # image 0's right half uncertain at theta + e
    outputs = iter([first, second])
    model.head_outputs = lambda feats: dict(semseg=next(outputs) +
                                            0 * tie.sum())
    model.extract_feat = lambda x: ()
    inputs = torch.zeros(2, 3, 8, 8)
    loss = adapter.objective(model, inputs)['semseg.sar']
    expected_kept = torch.zeros(2, 2, 4, dtype=torch.bool)
    expected_kept[0, :, :2] = True
    assert torch.equal(adapter.kept, expected_kept)
    # the mean entropy at the perturbed point over the kept pixels
    entropy = softmax_entropy(second)
    assert float(entropy[0, 0, 0]) < 0.4 * math.log(4) < float(
        entropy[0, 0, 3])
    torch.testing.assert_close(loss.detach(), entropy[expected_kept].mean())


def test_sam_step_is_the_two_pass_update():
    model, inputs, lr, rho, margin = ConvBN(), _inputs(), 0.5, 0.5, 0.8
    reference = copy.deepcopy(model).train()
    e0 = margin * math.log(4)

    def entropy(params):
        buffers = {n: b.clone() for n, b in reference.named_buffers()}
        return softmax_entropy(functional_call(reference, (params, buffers),
                                               (inputs,)))

    theta = {n: p.detach().clone().requires_grad_()
             for n, p in reference.bn.named_parameters(prefix='bn')}
    first = entropy(theta)
    reliable = first.detach() < e0
    grads = torch.autograd.grad(_masked_mean(first, reliable),
                                list(theta.values()))
    norm = torch.sqrt(sum((g**2).sum() for g in grads))
    perturbed = {n: p + rho * g / (norm + 1e-12)
                 for (n, p), g in zip(theta.items(), grads)}
    second = entropy(perturbed)
    kept = reliable & (second.detach() < e0)
    sam_grads = torch.autograd.grad(_masked_mean(second, kept),
                                    list(theta.values()))
    expected = {n: p.detach() - lr * g
                for (n, p), g in zip(theta.items(), sam_grads)}
    plain = {n: p.detach() - lr * g
             for (n, p), g in zip(theta.items(), grads)}
    # both filters act on this batch, and the perturbation changes the step
    assert 0 < int(kept.sum()) < int(reliable.sum()) < reliable.numel()
    assert not torch.allclose(expected['bn.weight'], plain['bn.weight'],
                              atol=1e-4)

    adapter = ADAPTERS.build(dict(
        type='SarAdapter', task='semseg', entropy_margin=margin, rho=rho,
        reset_threshold=0.0, optimizer=dict(type='SGD', lr=lr))).bind(model)
    adapter.adapt(inputs, steps=1)
    for name, value in expected.items():
        torch.testing.assert_close(dict(model.named_parameters())[name],
                                   value, rtol=1e-6, atol=1e-7)
    # the running statistics saw one forward, the one at theta
    reference(inputs)
    assert torch.equal(model.bn.running_mean, reference.bn.running_mean)
    assert int(model.bn.num_batches_tracked) == 1


def test_the_guard_restores_an_unperturbed_state():
    model, inputs = ConvBN(), _inputs()
    adapter = ADAPTERS.build(dict(
        type='SarAdapter', entropy_margin=1.0, rho=0.5, reset_threshold=0.0,
        optimizer=dict(type='SGD', lr=0.5))).bind(model)
    states = []
    for _ in range(2):
        adapter.adapt(inputs, steps=1)
        states.append([p.detach().clone() for _, p in adapter.adapted])
    adapter.adapt(inputs * float('nan'), steps=1)
    assert sum(adapter.stats[k] for k in (
        'undone_non_finite_buffers', 'undone_non_finite_params',
        'undone_non_finite_grads', 'skipped_non_finite_loss')) == 1
    # the failed step is undone at once: the last good step's result
    for (_, p), value in zip(adapter.adapted, states[1]):
        assert torch.equal(p, value)


def test_loss_average_and_recovery_to_the_source_state():
    model, inputs = ConvBN(), _inputs()
    source = {k: v.clone() for k, v in model.state_dict().items()}
    adapter = ADAPTERS.build(dict(
        type='SarAdapter', entropy_margin=1.0, reset_threshold=0.0,
        optimizer=dict(type='SGD', lr=0.5))).bind(model)
    losses = []
    for _ in range(2):
        adapter.adapt(inputs, steps=1)
        losses.append(adapter.last_losses['semseg.sar'])
    assert adapter.loss_ema == pytest.approx(0.9 * losses[0] +
                                             0.1 * losses[1], rel=1e-6)
    assert not torch.equal(model.bn.weight, source['bn.weight'])
    assert adapter.stats['recoveries'] == 0

    # a threshold above the average: the step is followed by a recovery
    adapter.reset_threshold = adapter.loss_ema + 1.0
    resets = adapter.stats['resets']
    adapter.adapt(inputs, steps=1)
    assert adapter.stats['recoveries'] == 1
    assert adapter.stats['resets'] == resets + 1
    assert adapter.loss_ema is None
    for k, v in model.state_dict().items():
        assert torch.equal(v, source[k]), k
    assert not adapter.optimizer.state


def test_frozen_modules_are_not_adapted():
    model = MODELS.build(tiny_model_cfg())
    adapter = ADAPTERS.build(dict(
        type='SarAdapter', frozen_modules=['backbone.layer2'])).bind(model)
    names = [n for n, _ in adapter.adapted]
    assert any(n.startswith('backbone.layer1.') for n in names)
    assert not any(n.startswith('backbone.layer2.') for n in names)
    with pytest.raises(ValueError, match=r"frozen_modules \['backbone.lay"
                       r"er9'\] are not modules of the model; its top-level "
                       r"modules are \['data_preprocessor', 'backbone'"):
        ADAPTERS.build(dict(type='SarAdapter',
                            frozen_modules=['backbone.layer9'])).bind(model)


def adapt_tiny_multi_task_model(adapter_cfg, steps=3):
    """Adapt the tiny multi-task model ``steps`` times on one batch:
    (adapter, model, the largest change of each task's output in evaluation
    mode, names of the buffers that moved)."""
    torch.manual_seed(42)
    model = MODELS.build(tiny_model_cfg(relation=True))
    inputs = model.data_preprocessor(synthetic_batch())['inputs']
    model.eval()
    with torch.no_grad():
        before = model(inputs, mode='tensor')
    buffers = {k: b.clone() for k, b in model.named_buffers()}
    adapter = ADAPTERS.build(adapter_cfg).bind(model)
    adapter.adapt(inputs, steps=steps, seed=0)
    assert adapter.stats['steps'] == steps
    model.eval()
    with torch.no_grad():
        after = model(inputs, mode='tensor')
    changes = {t: float((after[t] - before[t]).abs().max()) for t in after}
    moved = [k for k, b in model.named_buffers()
             if not torch.equal(b, buffers[k])]
    return adapter, model, changes, moved


@pytest.mark.parametrize('norm_policy', ['batch_stats', 'source_stats'])
def test_adapts_the_tiny_multi_task_model(norm_policy):
    _, _, changes, moved = adapt_tiny_multi_task_model(dict(
        type='SarAdapter', entropy_margin=1.0, reset_threshold=0.0,
        norm_policy=norm_policy,
        optimizer=dict(type='SGD', lr=1.0, momentum=0.9)))
    # the semseg entropy moves the shared backbone, so every task changes
    assert set(changes) == {'semseg', 'depth', 'normals', 'edge'}
    assert all(change > 1e-4 for change in changes.values()), changes
    assert bool(moved) == (norm_policy == 'batch_stats')
