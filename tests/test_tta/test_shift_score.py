"""The gated policy's shift score z, computed by hand: ``shift_score`` on
numbers chosen to give a known z, and the policy's z on a one-layer model,
for a batch of the calibration's size and for a smaller batch (whose
statistics spread more: sqrt(calibration size / batch size) times)."""
import math

import pytest
import torch
import torch.nn as nn

from s4t_mm.registry import ADAPTERS
from s4t_mm.tta.norm_policies.norm_statistics import shift_score

CALIBRATION_BATCH = 8


def test_shift_score_by_hand():
    layer = dict(mean_center=torch.tensor([0.0, 1.0]),
                 mean_spread=torch.tensor([1.0, 2.0]),
                 logvar_center=torch.tensor([0.0, 0.5]),
                 logvar_spread=torch.tensor([0.5, 0.25]))
    mean = torch.tensor([3.0, 1.0])  # 3 spreads away, on the centre
    var = torch.tensor([math.e, math.exp(0.5)])  # log: 1 (2 spreads), 0.5
    eps = 1e-5
    z = shift_score(layer, mean, var - eps, eps)
    # rms over the 4 standardised distances (3, 0, 2, 0)
    assert float(z) == pytest.approx(math.sqrt((9 + 4) / 4), rel=1e-5)
    # a batch of a quarter of the calibration's size: spreads doubled
    z4 = shift_score(layer, mean, var - eps, eps, spread_scale=2.0)
    assert float(z4) == pytest.approx(math.sqrt((9 + 4) / 4) / 2, rel=1e-5)


class OneBN(nn.Module):
    """1x1 conv (3 -> 2 channels) - BN, ``mode='tensor'`` as s4t_mm
    models."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 2, 1)
        self.bn = nn.BatchNorm2d(2)
        with torch.no_grad():
            self.conv.weight.copy_(torch.tensor([[1.0, 0.5, -0.5],
                                                 [0.2, -1.0, 0.3]]).view(
                                                     2, 3, 1, 1))
            self.conv.bias.copy_(torch.tensor([0.1, -0.2]))
            self.bn.running_mean.copy_(torch.tensor([0.05, -0.1]))
            self.bn.running_var.copy_(torch.tensor([1.2, 0.9]))

    def forward(self, x, mode='tensor'):
        return self.bn(self.conv(x))


#: a calibration written by hand: the source's per-channel centre and
#: batch-to-batch spread (of batches of CALIBRATION_BATCH images)
CALIBRATION = dict(
    batch_size=CALIBRATION_BATCH, num_batches=20,
    layers=dict(bn=dict(mean_center=torch.tensor([0.05, -0.1]),
                        mean_spread=torch.tensor([0.2, 0.3]),
                        logvar_center=torch.tensor([0.2, -0.1]),
                        logvar_spread=torch.tensor([0.25, 0.4]))))


def _z_by_hand(model, x, spread_scale):
    h = model.conv(x).detach()
    mean = h.mean((0, 2, 3))
    var = h.var((0, 2, 3), unbiased=True)
    c = CALIBRATION['layers']['bn']
    d = torch.cat([(mean - c['mean_center']) / (c['mean_spread'] *
                                                spread_scale),
                   (torch.log(var + model.bn.eps) - c['logvar_center']) /
                   (c['logvar_spread'] * spread_scale)])
    return float(d.pow(2).mean().sqrt()), mean, var


@pytest.mark.parametrize('batch_size', [CALIBRATION_BATCH, 2])
def test_gated_policy_z_and_blend_by_hand(batch_size):
    """z of the adapted batch, the weight ``a = 1 - (threshold / z)^2`` it
    gives and the blended statistics the layer then holds; a batch of
    another size than the calibration's is measured against spreads
    rescaled by sqrt(8 / batch_size)."""
    model = OneBN()
    source_mean = model.bn.running_mean.clone()
    source_var = model.bn.running_var.clone()
    x = torch.randn(batch_size, 3, 4, 4,
                    generator=torch.Generator().manual_seed(0)) * 1.5 + 0.4
    scale = math.sqrt(CALIBRATION_BATCH / batch_size)
    z, mean, var = _z_by_hand(model, x, scale)
    threshold = 0.7 * z  # a = 1 - 0.49
    adapter = ADAPTERS.build(dict(
        type='NormStatsAdapter',
        norm_policy=dict(type='gated', threshold=threshold,
                         calibration=CALIBRATION))).bind(model)
    adapter.adapt(x, steps=1, seed=0)
    policy = adapter.norm_policy
    assert policy.last_scores['bn'] == pytest.approx(z, rel=1e-5)
    a = 1 - 0.7**2
    assert policy.last_weights['bn'] == pytest.approx(a, rel=1e-5)
    torch.testing.assert_close(model.bn.running_mean,
                               source_mean + a * (mean - source_mean))
    torch.testing.assert_close(model.bn.running_var,
                               source_var + a * (var - source_var))


def test_a_batch_within_the_threshold_keeps_the_source_statistics():
    model = OneBN()
    source = model.bn.running_mean.clone(), model.bn.running_var.clone()
    x = torch.randn(CALIBRATION_BATCH, 3, 4, 4,
                    generator=torch.Generator().manual_seed(0))
    z, _, _ = _z_by_hand(model, x, 1.0)
    adapter = ADAPTERS.build(dict(
        type='NormStatsAdapter',
        norm_policy=dict(type='gated', threshold=1.01 * z,
                         calibration=CALIBRATION))).bind(model)
    adapter.adapt(x, steps=1, seed=0)
    assert adapter.norm_policy.last_weights['bn'] == 0.0
    assert torch.equal(model.bn.running_mean, source[0])
    assert torch.equal(model.bn.running_var, source[1])
