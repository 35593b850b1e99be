"""Hand-computed checks of the per-task statistics, scores and delta_m."""
import math

import numpy as np
import pytest
import torch

from s4t_mm.evaluation import functional as F

IGN = 255


def seg_maps():
    # valid (gt, pred) pairs: (0,0) (0,1) (1,1) (1,1) (2,0); the ignored
    # pixel predicts 2 and must not count.
    gt = torch.tensor([[0, 0, 1], [1, IGN, 2]])
    pred = torch.tensor([[0, 1, 1], [1, 2, 0]])
    return pred, gt


def test_confusion_matrix_and_segmentation_scores():
    pred, gt = seg_maps()
    conf = F.confusion_matrix(pred, gt, 3)
    np.testing.assert_array_equal(conf, [[1, 1, 0], [0, 2, 0], [1, 0, 0]])
    scores = F.segmentation_scores([dict(confusion=conf)])
    # IoU: class 0 1/(2+2-1), class 1 2/(2+3-2), class 2 0/1
    np.testing.assert_allclose(scores['IoU'], [100 / 3, 200 / 3, 0])
    assert scores['mIoU'] == pytest.approx(100 / 3)
    assert scores['aAcc'] == pytest.approx(60.0)  # 3 of 5
    assert scores['mAcc'] == pytest.approx(50.0)  # (1/2 + 1 + 0) / 3


def test_segmentation_scores_skip_absent_class_and_pool_images():
    pred, gt = seg_maps()
    conf = F.confusion_matrix(pred, gt, 4)
    scores = F.segmentation_scores([dict(confusion=conf)])
    assert math.isnan(scores['IoU'][3])
    assert scores['mIoU'] == pytest.approx(100 / 3)
    # a second image of class 2 only, predicted right: class 2 IoU 2/3
    conf2 = F.confusion_matrix(torch.full((1, 2), 2), torch.full((1, 2), 2), 4)
    pooled = F.segmentation_scores(
        [dict(confusion=conf), dict(confusion=conf2)])
    assert pooled['mIoU'] == pytest.approx(100 * (1 / 3 + 2 / 3 + 2 / 3) / 3)


def test_confusion_matrix_rejects_out_of_range_ids():
    pred, gt = seg_maps()
    pred[1, 1] = 7  # under an ignored gt pixel: fine
    F.confusion_matrix(pred, gt, 3)
    pred[0, 0] = 3
    with pytest.raises(ValueError, match=r'pred class id 3 outside \[0, 3\)'):
        F.confusion_matrix(pred, gt, 3)


def depth_maps():
    # valid diffs 1, 0, -2, 0, 1; the 255 pixel predicts 7 and is ignored
    gt = torch.tensor([[[1., 2., IGN], [4., 1., 2.]]])
    pred = torch.tensor([[[2., 2., 7.], [2., 1., 3.]]])
    return pred, gt


def test_depth_stats_and_scores():
    pred, gt = depth_maps()
    valid = F.depth_valid_mask(gt)
    assert int(valid.sum()) == 5
    scores = F.depth_scores([F.depth_stats(pred, gt, valid)])
    assert scores['rmse'] == pytest.approx(math.sqrt(6 / 5))
    assert scores['abs_rel'] == pytest.approx((1 + 0.5 + 0.5) / 5)
    log_sq = 2 * math.log(2)**2 + math.log(1.5)**2
    assert scores['log_rmse'] == pytest.approx(math.sqrt(log_sq / 5))


def test_depth_rmse_pools_pixels_over_images():
    # image a: one pixel off by 3; image b: two exact pixels.
    a = F.depth_stats(torch.tensor([4.]), torch.tensor([1.]),
                      torch.tensor([True]))
    b = F.depth_stats(torch.tensor([1., 2.]), torch.tensor([1., 2.]),
                      torch.tensor([True, True]))
    # sqrt(9 / 3), not the per-image mean (3 + 0) / 2
    assert F.depth_scores([a, b])['rmse'] == pytest.approx(math.sqrt(3))


def test_depth_valid_mask_drops_non_positive_and_ignored():
    gt = torch.tensor([0., -1., IGN, float('nan'), 3.])
    assert F.depth_valid_mask(gt).tolist() == [False] * 4 + [True]


def test_align_scale_shift():
    gt = torch.tensor([1., 2., 4., IGN])
    valid = gt != IGN
    aligned = F.align_scale_shift((gt - 1) / 2, gt, valid)
    torch.testing.assert_close(aligned[valid], gt[valid])
    constant = F.align_scale_shift(torch.ones(4), gt, valid)
    torch.testing.assert_close(constant, torch.full((4, ), 7 / 3))


def normal_maps():
    """Errors of 0, 90, 45, 20, 25 degrees; one ignored pixel."""
    gt = torch.zeros(3, 2, 3)
    gt[2] = -1
    gt[:, 1, 2] = IGN
    pred = torch.zeros(3, 2, 3)
    for (i, j), deg in zip([(0, 0), (0, 1), (0, 2), (1, 0), (1, 1)],
                           [0, 90, 45, 20, 25]):
        rad = math.radians(deg)
        pred[:, i, j] = 2 * torch.tensor([math.sin(rad), 0, -math.cos(rad)])
    pred[:, 1, 2] = torch.tensor([0., 0., 1.])
    return pred, gt


def test_normals_angles_and_scores():
    pred, gt = normal_maps()
    valid = F.normals_valid_mask(gt)
    angles = F.angular_errors(pred, gt)[valid]
    torch.testing.assert_close(
        angles, torch.tensor([0., 90, 45, 20, 25], dtype=torch.float64))
    scores = F.normals_scores([F.normals_stats(angles)])
    assert scores['mean'] == pytest.approx(36.0)
    assert scores['rmse'] == pytest.approx(math.sqrt(2230))
    assert scores['median'] == pytest.approx(25.0, abs=0.006)
    assert scores['within_11.25'] == pytest.approx(20.0)
    assert scores['within_22.5'] == pytest.approx(40.0)
    assert scores['within_30'] == pytest.approx(60.0)


def test_normals_median_pools_histograms():
    a = F.normals_stats(torch.tensor([1.0, 2.0]))
    b = F.normals_stats(torch.tensor([50.0, 60.0, 70.0]))
    assert F.normals_scores([a, b])['median'] == pytest.approx(50, abs=0.006)
    coarse = F.normals_stats(torch.tensor([12.3]), bin_deg=1.0)
    assert F.normals_scores([coarse], bin_deg=1.0)['median'] == 12.5


def edge_maps():
    gt = torch.tensor([[0., 1., IGN], [0., 1., 0.]])
    pred = torch.tensor([[0.2, 0.7, 0.9], [0.0, 1.0, 0.4]])
    return pred, gt


def test_l1():
    pred, gt = edge_maps()
    stats = F.l1_stats(pred, gt, gt != IGN)
    assert F.l1_scores([stats])['l1'] == pytest.approx(0.9 / 5)


def test_ods_f_exact_matches_and_ignore():
    gt = torch.tensor([[0., 1., 0.], [0., 1., IGN]])
    pred = torch.tensor([[0.0, 0.9, 0.6], [0.0, 0.3, 1.0]])
    stats = F.edge_match_stats(pred, gt, gt != IGN, np.array([0.25, 0.5,
                                                              0.95]),
                               thin=False)
    # the ignored pixel's prediction is dropped at every threshold
    np.testing.assert_array_equal(stats['sum_p'], [3, 2, 0])
    np.testing.assert_array_equal(stats['count_p'], [2, 1, 0])
    np.testing.assert_array_equal(stats['count_r'], [2, 1, 0])
    np.testing.assert_array_equal(stats['sum_r'], [2, 2, 2])
    # t=0.25: P 2/3, R 1 -> F 0.8; t=0.5: F 0.5; t=0.95: 0
    assert F.ods_f([stats]) == pytest.approx(80.0)


def line_maps(pred_cols):
    gt = torch.zeros(20, 20)
    gt[2:18, 10] = 1
    pred = torch.zeros(20, 20)
    pred[2:18, pred_cols] = 0.9
    return pred, gt


def test_ods_f_tolerance_and_thinning():
    thr = np.array([0.5])
    pred, gt = line_maps([11])
    valid = torch.ones_like(gt, dtype=torch.bool)
    # 0.0075 of the 28-pixel diagonal is 0.2 px: one pixel off misses
    miss = F.edge_match_stats(pred, gt, valid, thr, thin=False)
    assert F.ods_f([miss]) == 0
    hit = F.edge_match_stats(pred, gt, valid, thr, max_dist=0.05, thin=False)
    assert F.ods_f([hit]) == pytest.approx(100.0)
    # a 3-pixel wide band: precision 1/3 unless thinned to its centre line
    band, _ = line_maps([9, 10, 11])
    thick = F.edge_match_stats(band, gt, valid, thr, thin=False)
    # at most 1/3 of the band matches (F = 50); the BSDS matcher picks its
    # outlier edges with a C random generator seeded once per process, so
    # how many of them match depends on the calls made before this one
    assert 40 < F.ods_f([thick]) <= 100 * 2 * (1 / 3) / (4 / 3) + 1e-6
    thinned = F.edge_match_stats(band, gt, valid, thr, thin=True)
    assert F.ods_f([thinned]) > 90


def test_edge_tolerance_f_counts_and_cannot_be_gamed():
    thr = np.array([0.5])
    valid = torch.ones(20, 20, dtype=torch.bool)
    # one pixel off the gt line: within a 1-pixel tolerance, not within 0
    pred, gt = line_maps([11])
    hit = F.edge_tolerance_stats(pred, gt, valid, thr, tolerance=1)
    assert F.ods_f([hit]) == pytest.approx(100.0)
    miss = F.edge_tolerance_stats(pred, gt, valid, thr, tolerance=0)
    assert F.ods_f([miss]) == 0
    # a 4-pixel band: columns 9-11 lie within 1 px of column 10, column 12
    # does not -> P 3/4, R 1
    band, _ = line_maps([9, 10, 11, 12])
    stats = F.edge_tolerance_stats(band, gt, valid, thr, tolerance=1)
    np.testing.assert_array_equal(stats['count_p'], [48])
    np.testing.assert_array_equal(stats['sum_p'], [64])
    np.testing.assert_array_equal(stats['count_r'], [16])
    np.testing.assert_array_equal(stats['sum_r'], [16])
    assert F.ods_f([stats]) == pytest.approx(100 * 2 * 0.75 / 1.75)
    # predicting no edges scores 0, predicting edges everywhere scores the
    # F of precision = share of pixels near an edge
    nothing = F.edge_tolerance_stats(torch.zeros(20, 20), gt, valid, thr)
    assert F.ods_f([nothing]) == 0
    everything = F.edge_tolerance_stats(torch.ones(20, 20), gt, valid, thr)
    precision = 18 * 3 / 400  # rows 1-18, columns 9-11
    assert F.ods_f([everything]) == pytest.approx(
        100 * 2 * precision / (precision + 1))
    # an ignored gt edge pixel is neither to recall nor a match
    gt_ign = gt.clone()
    gt_ign[2:18, 10] = IGN
    gt_ign[2, 10] = 1
    ign = F.edge_tolerance_stats(pred, gt_ign, gt_ign != IGN, thr)
    np.testing.assert_array_equal(ign['sum_r'], [1])
    np.testing.assert_array_equal(ign['count_p'], [2])  # rows 2 and 3
    with pytest.raises(ValueError, match='tolerance'):
        F.edge_tolerance_stats(pred, gt, valid, thr, tolerance=-1)


def test_max_f():
    gt = torch.tensor([[1., 1., 0.], [0., IGN, 1.]])
    pred = torch.tensor([[0.9, 0.4, 0.6], [0.1, 0.99, 0.7]])
    stats = F.binary_pr_stats(pred, gt, gt != IGN, np.array([0.3, 0.5, 0.7]))
    # pred == threshold counts as positive (0.7 at t=0.7)
    np.testing.assert_array_equal(stats['tp'], [3, 2, 2])
    np.testing.assert_array_equal(stats['pred_pos'], [4, 3, 2])
    assert stats['gt_pos'] == 3
    # best at t=0.7: P 1, R 2/3, F = 1.3 * 2/3 / (0.3 + 2/3)
    assert F.max_f([stats]) == pytest.approx(100 * 1.3 * (2 / 3) /
                                             (0.3 + 2 / 3))
    # F1 peaks at t=0.3: P 3/4, R 1
    assert F.max_f([stats], beta2=1.0) == pytest.approx(100 * 6 / 7)


def test_even_thresholds():
    np.testing.assert_allclose(F.even_thresholds(19)[[0, -1]], [0.05, 0.95])
    with pytest.raises(ValueError, match='at least one'):
        F.even_thresholds(0)
