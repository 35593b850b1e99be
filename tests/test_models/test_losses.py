import math

import pytest
import torch

from s4t_mm.registry import MODELS


def test_cross_entropy_ignores_label_255():
    loss = MODELS.build(dict(type='PixelCrossEntropyLoss'))
    logits = torch.zeros(1, 2, 1, 2)
    logits[0, 0, 0, 0] = math.log(3.0)  # p(class 0) = 3/4 at pixel 0
    target = torch.tensor([[[[0, 255]]]])
    torch.testing.assert_close(loss(logits, target),
                               torch.tensor(-math.log(0.75)))


def test_masked_l1_sums_channels_and_averages_labelled_pixels():
    loss = MODELS.build(dict(type='MaskedL1Loss'))
    pred = torch.tensor([[[[1.0, 5.0]], [[2.0, 5.0]]]])
    target = torch.tensor([[[[0.0, 255.0]], [[0.0, 0.0]]]])
    # only pixel 0 counts: |1| + |2| over one pixel
    torch.testing.assert_close(loss(pred, target), torch.tensor(3.0))


def test_masked_l1_normalises_predictions_for_normals():
    loss = MODELS.build(dict(type='MaskedL1Loss', normalize=True))
    pred = torch.tensor([[[[0.0]], [[0.0]], [[-7.0]]]])
    target = torch.tensor([[[[0.0]], [[0.0]], [[-1.0]]]])
    assert loss(pred, target).item() == pytest.approx(0.0)


def test_balanced_bce_weights_positives():
    loss = MODELS.build(dict(type='BalancedBCELoss', pos_weight=0.95))
    logits = torch.zeros(1, 1, 1, 3)
    target = torch.tensor([[[[1.0, 0.0, 255.0]]]])
    expected = (0.95 * math.log(2) + 0.05 * math.log(2)) / 2
    assert loss(logits, target).item() == pytest.approx(expected)


def test_balanced_bce_auto_weight_uses_negative_fraction():
    loss = MODELS.build(dict(type='BalancedBCELoss', pos_weight=None))
    logits = torch.zeros(1, 1, 1, 4)
    target = torch.tensor([[[[1.0, 0.0, 0.0, 0.0]]]])
    # w = 3/4 negatives: (0.75 * log2 + 3 * 0.25 * log2) / 4
    assert loss(logits, target).item() == pytest.approx(
        (0.75 + 0.75) * math.log(2) / 4)


def test_bad_pos_weight():
    with pytest.raises(ValueError, match='pos_weight must lie in'):
        MODELS.build(dict(type='BalancedBCELoss', pos_weight=1.5))


def test_uncertainty_combiner_formula_and_unknown_task():
    comb = MODELS.build(dict(type='UncertaintyWeightCombiner',
                             tasks=['a', 'b']))
    with torch.no_grad():
        comb.scales.copy_(torch.tensor([2.0, 1.0]))
    terms = comb({'a': torch.tensor(8.0), 'b': torch.tensor(1.0)})
    assert terms['a'].item() == pytest.approx(0.5 / 4 * 8 + math.log(5))
    assert terms['b'].item() == pytest.approx(0.5 + math.log(2))
    with pytest.raises(KeyError, match="unknown task 'c'"):
        comb({'c': torch.tensor(1.0)})
