"""CosineNormalsLoss: 1 - cos over the channels, labelled pixels only."""
import math

import pytest
import torch

from s4t_mm.models.losses import CosineNormalsLoss


def test_hand_computed_values():
    # pixel 0: same direction, twice as long -> 0
    # pixel 1: 90 degrees -> 1
    # pixel 2: 60 degrees -> 1 - 0.5
    # pixel 3: ignored (all channels 255)
    pred = torch.tensor([[2., 0., 0.], [0., 1., 0.],
                         [0.5, math.sqrt(3) / 2, 0.], [1., 0., 0.]])
    target = torch.tensor([[1., 0., 0.], [1., 0., 0.],
                           [1., 0., 0.], [255., 255., 255.]])
    # (N, C, H, W) = (1, 3, 1, 4)
    pred = pred.T.reshape(1, 3, 1, 4)
    target = target.T.reshape(1, 3, 1, 4)
    loss = CosineNormalsLoss()(pred, target)
    assert float(loss) == pytest.approx((0 + 1 + 0.5) / 3, abs=1e-5)


def test_scale_invariant_and_differentiable():
    pred = torch.randn(2, 3, 4, 4, requires_grad=True)
    target = torch.nn.functional.normalize(torch.randn(2, 3, 4, 4), dim=1)
    loss_fn = CosineNormalsLoss(ignore_index=None)
    loss = loss_fn(pred, target)
    assert float(loss_fn(pred.detach() * 7, target)) == pytest.approx(
        float(loss.detach()), abs=1e-5)
    loss.backward()
    assert torch.isfinite(pred.grad).all() and pred.grad.abs().sum() > 0
    # the prediction's direction is all that is pulled
    assert float(loss_fn(target * 3, target)) == pytest.approx(0, abs=1e-5)


def test_nothing_labelled_and_bad_input():
    target = torch.full((1, 3, 2, 2), 255.)
    assert float(CosineNormalsLoss()(torch.ones(1, 3, 2, 2), target)) == 0
    with pytest.raises(ValueError, match='does not match'):
        CosineNormalsLoss()(torch.ones(1, 3, 2, 2), torch.ones(1, 3, 2, 3))
    with pytest.raises(ValueError, match='eps must be > 0'):
        CosineNormalsLoss(eps=0)
