"""BN-adapt's statistics (``NormStatsAdapter``), computed by hand: momentum
1.0 gives exactly the batch's statistics, momentum m over n passes on one
batch the closed form ``(1 - m)^n * source + (1 - (1 - m)^n) * batch``.
BN-adapt is the baseline every conclusion is measured against."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from s4t_mm.registry import ADAPTERS


class ConvBNStack(nn.Module):
    """conv - BN - ReLU - conv - BN with ``mode='tensor'`` as s4t_mm models
    take it; source running statistics far from any batch's."""

    def __init__(self):
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.conv1 = nn.Conv2d(3, 4, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(4)
        self.conv2 = nn.Conv2d(4, 3, 1)
        self.bn2 = nn.BatchNorm2d(3)
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(torch.randn(p.shape, generator=g))
            for bn in (self.bn1, self.bn2):
                bn.running_mean.copy_(torch.randn(bn.num_features,
                                                  generator=g) * 3)
                bn.running_var.copy_(torch.rand(bn.num_features,
                                                generator=g) * 5 + 0.5)

    def forward(self, x, mode='tensor'):
        return self.bn2(self.conv2(self.bn1(self.conv1(x)).relu()))


def _batch(n=4):
    return torch.randn(n, 3, 6, 5,
                       generator=torch.Generator().manual_seed(1)) * 2 + 1


def _normalise(h, mean, var, layer):
    """BatchNorm of ``h`` with the given per-channel statistics."""
    shape = (1, -1, 1, 1)
    return (h - mean.view(shape)) / torch.sqrt(var.view(shape) + layer.eps) \
        * layer.weight.view(shape) + layer.bias.view(shape)


def _batch_statistics_by_hand(model, x):
    """{layer: (mean, unbiased var)} of each BN layer's input in a train-
    mode forward pass: every layer normalises with its batch's own mean and
    biased variance (what the next layer sees)."""
    with torch.no_grad():
        h1 = F.conv2d(x, model.conv1.weight, model.conv1.bias, padding=1)
        mean1 = h1.mean((0, 2, 3))
        var1 = h1.var((0, 2, 3), unbiased=True)
        biased1 = h1.var((0, 2, 3), unbiased=False)
        n1 = _normalise(h1, mean1, biased1, model.bn1)
        h2 = F.conv2d(n1.clamp(min=0), model.conv2.weight, model.conv2.bias)
        return dict(bn1=(mean1, var1),
                    bn2=(h2.mean((0, 2, 3)), h2.var((0, 2, 3),
                                                    unbiased=True)))


def _adapted(momentum, steps, n=4):
    model = ConvBNStack()
    source = {name: (layer.running_mean.clone(), layer.running_var.clone())
              for name, layer in (('bn1', model.bn1), ('bn2', model.bn2))}
    x = _batch(n)
    batch = _batch_statistics_by_hand(model, x)
    adapter = ADAPTERS.build(dict(type='NormStatsAdapter',
                                  momentum=momentum)).bind(model)
    adapter.adapt(x, steps=steps, seed=0)
    return model, source, batch


def test_momentum_one_gives_exactly_the_batch_statistics():
    model, source, batch = _adapted(momentum=1.0, steps=1)
    for name in ('bn1', 'bn2'):
        layer = getattr(model, name)
        mean, var = batch[name]
        torch.testing.assert_close(layer.running_mean, mean)
        torch.testing.assert_close(layer.running_var, var)
        # far from the source: the test tells the two apart
        assert (mean - source[name][0]).abs().max() > 0.5


@pytest.mark.parametrize('m', [0.1, 0.3])  # 0.1: every benchmark row
@pytest.mark.parametrize('steps', [1, 2, 5])
def test_momentum_m_over_n_passes_is_the_closed_form(m, steps):
    model, source, batch = _adapted(momentum=m, steps=steps)
    keep = (1 - m)**steps
    for name in ('bn1', 'bn2'):
        layer = getattr(model, name)
        for running, src, target in zip(
                (layer.running_mean, layer.running_var), source[name],
                batch[name]):
            # every pass sees the same inputs (train mode normalises with
            # the batch's statistics, and no parameter moves), so n
            # momentum updates toward one target compound
            torch.testing.assert_close(running,
                                       keep * src + (1 - keep) * target)


def test_predictions_normalise_with_the_adapted_statistics():
    model, _, batch = _adapted(momentum=1.0, steps=1)
    x = _batch()
    model.eval()
    with torch.no_grad():
        out = model(x)
        n1 = _normalise(model.conv1(x), *batch['bn1'], model.bn1)
        expected = _normalise(model.conv2(n1.relu()), *batch['bn2'],
                              model.bn2)
    torch.testing.assert_close(out, expected)
