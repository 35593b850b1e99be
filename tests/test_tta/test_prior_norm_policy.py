"""PriorNormPolicy: Schneider et al.'s prior-weighted statistics."""
import pytest
import torch
import torch.nn as nn

from s4t_mm.tta.adapters import BaseAdapter
from s4t_mm.tta.norm_policies import PriorNormPolicy, build_norm_policy


class TwoBN(nn.Module):
    """conv -> BN -> conv -> BN, with ``mode='tensor'`` as the s4t_mm
    models take it."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv1 = nn.Conv2d(3, 4, 1)
        self.bn1 = nn.BatchNorm2d(4)
        self.conv2 = nn.Conv2d(4, 2, 1)
        self.bn2 = nn.BatchNorm2d(2)

    def forward(self, x, mode='tensor'):
        return self.bn2(self.conv2(self.bn1(self.conv1(x))))


def test_blend_is_n_over_n_plus_prior():
    model = TwoBN().eval()
    source_mean = model.bn1.running_mean.clone()
    source_var = model.bn1.running_var.clone()
    policy = build_norm_policy(dict(type='prior', prior_strength=24))
    policy.bind(model)
    x = torch.randn(8, 3, 5, 5) * 3 + 2
    policy.set_mode(model)
    policy.before_steps(model, x)
    h = model.conv1(x).detach()
    batch_mean = h.mean((0, 2, 3))
    batch_var = h.var((0, 2, 3), unbiased=True)
    a = 8 / (24 + 8)
    torch.testing.assert_close(model.bn1.running_mean,
                               (1 - a) * source_mean + a * batch_mean)
    torch.testing.assert_close(model.bn1.running_var,
                               (1 - a) * source_var + a * batch_var)
    assert policy.last_weights == pytest.approx({'bn1': a, 'bn2': a})
    # the second layer is measured on the first one's blended output
    h2 = model.conv2(model.bn1(model.conv1(x))).detach()
    torch.testing.assert_close(
        model.bn2.running_mean,
        (1 - a) * torch.zeros(2) + a * h2.mean((0, 2, 3)))
    # normalisation layers predict with the blend: evaluation mode
    assert not model.bn1.training and not model.bn2.training


def test_zero_prior_is_the_batch_and_a_huge_one_the_source():
    x = torch.randn(8, 3, 4, 4) + 1
    model = TwoBN().eval()
    policy = PriorNormPolicy(prior_strength=0)
    policy.bind(model)
    policy.set_mode(model)
    policy.before_steps(model, x)
    torch.testing.assert_close(model.bn1.running_mean,
                               model.conv1(x).mean((0, 2, 3)))
    model = TwoBN().eval()
    source = model.bn1.running_mean.clone()
    policy = PriorNormPolicy(prior_strength=1e12)
    policy.bind(model)
    policy.before_steps(model, x)
    torch.testing.assert_close(model.bn1.running_mean, source)


def test_bad_prior_strength():
    with pytest.raises(ValueError, match='prior_strength must be >= 0'):
        PriorNormPolicy(prior_strength=-1)


def test_layers_restricts_which_layers_adapt():
    x = torch.randn(8, 3, 4, 4) * 2 + 1
    model = TwoBN().eval()
    source = model.bn2.running_mean.clone()
    policy = PriorNormPolicy(prior_strength=0, layers='bn1')
    policy.bind(model)
    policy.before_steps(model, x)
    torch.testing.assert_close(model.bn1.running_mean,
                               model.conv1(x).mean((0, 2, 3)))
    assert torch.equal(model.bn2.running_mean, source)
    assert policy.last_weights == {'bn1': 1.0, 'bn2': 0.0}
    with pytest.raises(ValueError, match='matches no BatchNorm layer'):
        PriorNormPolicy(layers='backbone').bind(TwoBN())


class FirstConvAdapter(BaseAdapter):
    """Minimise a linear read-out of the output, moving the first
    convolution: through a BatchNorm in training mode its scale cancels."""

    def select_parameters(self, model):
        return [('conv1.weight', model.conv1.weight)]

    def objective(self, model, inputs):
        return {'out': (model(inputs) * torch.tensor(
            [1.0, -2.0]).view(1, 2, 1, 1)).mean()}


def _stepped_weights(norm_policy, x, steps=3):
    model = TwoBN().eval()
    adapter = FirstConvAdapter(norm_policy=norm_policy,
                               optimizer=dict(type='SGD', lr=0.5))
    adapter.bind(model)
    adapter.adapt(x, steps=steps)
    return model, model.conv1.weight.detach().clone()


def test_live_steps_with_full_weight_step_as_batch_statistics_do():
    x = torch.randn(8, 3, 5, 5) * 3 + 2
    _, with_batch_stats = _stepped_weights('batch_stats', x)
    model, live = _stepped_weights(
        dict(type='prior', prior_strength=0, live_steps=True), x)
    _, frozen = _stepped_weights(dict(type='prior', prior_strength=0), x)
    # a = 1 steps natively as BatchNorm in training mode: bit for bit
    assert torch.equal(live, with_batch_stats)
    assert not torch.allclose(frozen, with_batch_stats, atol=1e-3)
    # the hooks are gone after the steps, the layers' momentum and step
    # counter are as before, and the buffers hold the adapted model's own
    # statistics
    assert not model.bn1._forward_hooks
    assert model.bn1.momentum == 0.1
    assert int(model.bn1.num_batches_tracked) == 0
    torch.testing.assert_close(model.bn1.running_mean,
                               model.conv1(x).detach().mean((0, 2, 3)))


def test_live_steps_with_a_partial_weight_blend_in_a_hook():
    """0 < a < 1: the steps normalise with the blend of the source and
    each step's batch statistics: between the frozen and the batch-statistics
    steps."""
    x = torch.randn(8, 3, 5, 5) * 3 + 2
    _, with_batch_stats = _stepped_weights('batch_stats', x)
    _, frozen = _stepped_weights(dict(type='prior', prior_strength=8), x)
    _, live = _stepped_weights(
        dict(type='prior', prior_strength=8, live_steps=True), x)
    assert not torch.allclose(live, with_batch_stats, atol=1e-4)
    assert not torch.allclose(live, frozen, atol=1e-4)


def test_live_steps_with_zero_weight_keep_the_source_statistics():
    x = torch.randn(8, 3, 5, 5) * 3 + 2
    _, frozen = _stepped_weights(dict(type='prior', prior_strength=1e12), x)
    _, live = _stepped_weights(
        dict(type='prior', prior_strength=1e12, live_steps=True), x)
    torch.testing.assert_close(live, frozen)
