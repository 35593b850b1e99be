"""MultiTaskMetric's reference-compatible scoring (the S4T reference's
evaluation): one scale-and-shift fit per batch, edges on the raw output, and
classes absent from prediction and gt counted as IoU 0. Every expected value
is worked out by hand in the comments."""
import math

import pytest
import torch

from s4t_mm.evaluation import MultiTaskMetric
from s4t_mm.evaluation import functional as F
from s4t_mm.structures import MultiTaskDataSample


def _sample(task, pred, gt):
    sample = MultiTaskDataSample(metainfo=dict(img_path='x'))
    sample.set_pred(task, torch.tensor([[pred]], dtype=torch.float32))
    sample.set_gt(task, torch.tensor([[gt]], dtype=torch.float32))
    return sample.to_dict()


def _evaluate(metric, batches):
    n = 0
    for batch in batches:
        metric.process({}, batch)
        n += len(batch)
    return metric.evaluate(n)


# Two 1x2 images. Pooled, pred (0, 1, 2, 3) against gt (1, 2, 3, 5):
# mean p 1.5, mean g 2.75, cov 6.5 / 4, var 5 / 4 -> s = 1.3, t = 0.8,
# aligned (0.8, 2.1, 3.4, 4.7), errors (-0.2, 0.1, 0.4, -0.3).
PAIRS = [((0., 1.), (1., 2.)), ((2., 3.), (3., 5.))]
BATCH_RMSE = math.sqrt((0.04 + 0.01 + 0.16 + 0.09) / 4)
BATCH_L1 = (0.2 + 0.1 + 0.4 + 0.3) / 4


def test_fit_scale_shift_by_hand():
    scale, shift = F.fit_scale_shift(torch.tensor([0., 1., 2., 3.]),
                                     torch.tensor([1., 2., 3., 5.]))
    assert float(scale) == pytest.approx(1.3)
    assert float(shift) == pytest.approx(0.8)
    # a constant prediction: scale 0, shift the mean gt
    scale, shift = F.fit_scale_shift(torch.ones(3), torch.tensor([1., 2., 6.]))
    assert float(scale) == 0 and float(shift) == pytest.approx(3.0)


def test_depth_one_fit_per_batch():
    batch = [_sample('depth', p, g) for p, g in PAIRS]
    metric = MultiTaskMetric(depth_align='scale_shift', alignment='per_batch')
    out = _evaluate(metric, [batch])
    assert out['depth/rmse_batch_aligned'] == pytest.approx(BATCH_RMSE)
    # one image per batch: the batch fit is the per-image fit, and two
    # points are fitted exactly
    metric = MultiTaskMetric(depth_align='scale_shift', alignment='per_batch')
    out = _evaluate(metric, [[s] for s in batch])
    assert out['depth/rmse_batch_aligned'] == pytest.approx(0, abs=1e-9)
    # today's default: a fit per image
    metric = MultiTaskMetric(depth_align='scale_shift')
    out = _evaluate(metric, [batch])
    assert out['depth/rmse_aligned'] == pytest.approx(0, abs=1e-9)
    assert 'depth/rmse_batch_aligned' not in out


def test_edge_one_fit_per_batch_absorbs_the_255():
    batch = [_sample('edge', p, g) for p, g in PAIRS]
    metric = MultiTaskMetric(edge_align='scale_shift', alignment='per_batch')
    assert _evaluate(metric, [batch])['edge/l1_batch_aligned'] == \
        pytest.approx(BATCH_L1)
    scaled = [_sample('edge', tuple(255 * v for v in p), g) for p, g in PAIRS]
    metric = MultiTaskMetric(edge_align='scale_shift', alignment='per_batch')
    assert _evaluate(metric, [scaled])['edge/l1_batch_aligned'] == \
        pytest.approx(BATCH_L1)


def test_edges_scored_on_the_raw_output():
    # probabilities of raw outputs (0, ln 3, -ln 3): (0.5, 0.75, 0.25)
    sample = MultiTaskDataSample(metainfo=dict(img_path='x'))
    sample.set_pred('edge', torch.tensor([[[0.5, 0.75, 0.25]]]))
    sample.set_gt('edge', torch.tensor([[[0., 1., -1.]]]))
    logit = _evaluate(MultiTaskMetric(edge_pred='logit'),
                      [[sample.to_dict()]])
    # |0 - 0| + |ln 3 - 1| + |-ln 3 + 1|, over 3 pixels
    assert logit['edge/l1'] == pytest.approx(2 * (math.log(3) - 1) / 3,
                                             rel=1e-5)
    prob = _evaluate(MultiTaskMetric(), [[sample.to_dict()]])
    # |0.5 - 0| + |0.75 - 1| + |0.25 + 1| = 2, over 3 pixels
    assert prob['edge/l1'] == pytest.approx(2 / 3)


def test_logit_of_saturated_probabilities_stays_finite():
    raw = F.probability_logit(torch.tensor([0., 1., 0.5]))
    assert torch.isfinite(raw).all()
    assert float(raw[2]) == 0
    assert float(raw[0]) < -80 and 16 < float(raw[1]) < 17


def test_absent_classes_count_zero():
    # gt (0, 0, 1, 1), pred (0, 1, 1, 1), 3 classes, class 2 in neither:
    # IoU class 0 = 1 / 2, class 1 = 2 / 3
    sample = MultiTaskDataSample(metainfo=dict(img_path='x'))
    sample.set_pred('semseg', torch.tensor([[[0, 1, 1, 1]]]))
    sample.set_gt('semseg', torch.tensor([[[0, 0, 1, 1]]]))

    def miou(**kwargs):
        metric = MultiTaskMetric(num_classes=dict(semseg=3), **kwargs)
        return _evaluate(metric, [[sample.to_dict()]])['semseg/mIoU']

    assert miou() == pytest.approx((50 + 200 / 3) / 2)
    assert miou(absent_class_iou=0.0) == pytest.approx((50 + 200 / 3) / 3)


@pytest.mark.parametrize('kwargs,match', [
    (dict(alignment='per_pixel'),
     "unknown alignment 'per_pixel'; valid: per_image, per_batch"),
    (dict(edge_pred='raw'),
     "unknown edge_pred 'raw'; valid: probability, logit"),
    (dict(absent_class_iou=1.5), 'absent_class_iou must lie in'),
])
def test_bad_options(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MultiTaskMetric(**kwargs)
