"""Hybrid-TTN: the adapted share of channels falls linearly over the
BatchNorm layers, and a layer adapts its least shifted channels."""
import pytest
import torch
import torch.nn as nn

from s4t_mm.tta.norm_policies import HybridTTNPolicy, build_norm_policy
from s4t_mm.tta.norm_policies.hybrid_ttn_policy import (
    adapted_channel_fraction, wasserstein2)
from s4t_mm.tta.norm_policies.norm_statistics import measure_batch


class ThreeBN(nn.Module):
    """Three conv-BatchNorm pairs of 4 channels."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv1 = nn.Conv2d(3, 4, 1)
        self.bn1 = nn.BatchNorm2d(4)
        self.conv2 = nn.Conv2d(4, 4, 1)
        self.bn2 = nn.BatchNorm2d(4)
        self.conv3 = nn.Conv2d(4, 4, 1)
        self.bn3 = nn.BatchNorm2d(4)

    def forward(self, x, mode='tensor'):
        x = self.bn1(self.conv1(x))
        x = self.bn2(self.conv2(x))
        return self.bn3(self.conv3(x))


def test_fraction_falls_linearly_from_all_to_none():
    assert [adapted_channel_fraction(i, 3) for i in range(3)] == \
        [1.0, 0.5, 0.0]
    assert adapted_channel_fraction(0, 1) == 1.0
    # 22 layers (the embedded model's ResNet-18): layer 7 keeps 2/3
    assert adapted_channel_fraction(7, 22) == pytest.approx(2 / 3)
    assert int(adapted_channel_fraction(7, 22) * 16) == 10


def test_wasserstein_distance_of_two_gaussians():
    # N(0, 1) to N(1, 4): 1 + 1 + 4 - 2 * 1 * 2
    w2 = wasserstein2(torch.tensor([0.0]), torch.tensor([1.0]),
                      torch.tensor([1.0]), torch.tensor([4.0]))
    assert float(w2) == pytest.approx(2.0)


def test_middle_layer_adapts_its_two_closest_channels():
    model = ThreeBN().eval()
    policy = build_norm_policy('hybrid_ttn')
    assert isinstance(policy, HybridTTNPolicy)
    policy.bind(model)
    mean = torch.tensor([0.0, 3.0, 0.1, 2.0])  # source: mean 0, var 1
    var = torch.ones(4)
    weight, score = policy.decide('bn2', model.bn2, mean, var)
    assert weight.tolist() == [1.0, 0.0, 1.0, 0.0] and score is None
    assert policy.decide('bn1', model.bn1, mean, var).weight.tolist() == \
        [1.0] * 4
    assert policy.decide('bn3', model.bn3, mean, var).weight.tolist() == \
        [0.0] * 4


def test_measured_batch_blends_per_channel():
    model = ThreeBN().eval()
    policy = HybridTTNPolicy()
    policy.bind(model)
    policy.set_mode(model)
    x = torch.randn(8, 3, 5, 5) * 2 + 1
    policy.before_steps(model, x)
    assert policy.last_weights == {'bn1': 1.0, 'bn2': 0.5, 'bn3': 0.0}
    assert policy.report().scores == {}
    # bn1 takes the batch's statistics, bn3 keeps the source's (0, 1)
    stats = measure_batch(model, x)
    torch.testing.assert_close(model.bn1.running_mean, stats['bn1'][0])
    assert torch.equal(model.bn3.running_mean, torch.zeros(4))
    # bn2: the two channels closest to the source took the batch's
    mean, var = stats['bn2']
    closest = torch.argsort(wasserstein2(torch.zeros(4), torch.ones(4),
                                         mean, var))[:2]
    taken = torch.isclose(model.bn2.running_mean, mean)
    assert sorted(torch.nonzero(taken).flatten().tolist()) == \
        sorted(closest.tolist())
    assert torch.equal(model.bn2.running_mean[~taken], torch.zeros(2))
