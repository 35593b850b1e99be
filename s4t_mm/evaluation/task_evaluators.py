"""What MultiTaskMetric measures for each task.

A task evaluator turns one image's ``(C, H, W)`` prediction and ground truth
into small additive statistics (:meth:`stats`) and the dataset's list of them
into named scores (:meth:`scores`). A new task is one evaluator class and
one :data:`TASK_EVALUATORS` entry.
"""
from typing import Dict, Optional, Sequence, Union

import numpy as np
from torch import Tensor

from . import functional as F

Thresholds = Union[int, Sequence[float]]
ALIGN_MODES = (None, 'scale_shift')


def _check_align(name: str, align: Optional[str]) -> Optional[str]:
    if align not in ALIGN_MODES:
        raise ValueError(
            f'unknown {name} {align!r}; choose one of {list(ALIGN_MODES)}')
    return align


def _thresholds(value: Thresholds) -> np.ndarray:
    if isinstance(value, int):
        return F.even_thresholds(value)
    return np.asarray(sorted(value), dtype=np.float64)


class TaskEvaluator:
    """Per-image statistics and dataset scores of one task."""

    def __init__(self, ignore_index: float = 255):
        self.ignore_index = ignore_index

    def stats(self, pred: Tensor, gt: Tensor) -> F.Stats:
        raise NotImplementedError

    def scores(self, stats: Sequence[F.Stats]) -> Dict[str, float]:
        raise NotImplementedError


class CategoricalEvaluator(TaskEvaluator):
    """mIoU, mAcc, aAcc from a dataset-level confusion matrix."""

    def __init__(self, num_classes: int, ignore_index: float = 255):
        super().__init__(ignore_index)
        self.num_classes = num_classes

    def stats(self, pred, gt):
        return dict(confusion=F.confusion_matrix(
            pred, gt, self.num_classes, int(self.ignore_index)))

    def scores(self, stats):
        scores = F.segmentation_scores(stats)
        scores.pop('IoU')
        return scores

    def per_class_iou(self, stats: Sequence[F.Stats]) -> np.ndarray:
        return F.segmentation_scores(stats)['IoU']


class DepthEvaluator(TaskEvaluator):
    """RMSE, abs_rel, log RMSE pooled over valid pixels (gt not ignore and
    positive), optionally after per-image scale-and-shift alignment."""

    def __init__(self, align: Optional[str] = None, ignore_index=255):
        super().__init__(ignore_index)
        self.align = _check_align('depth_align', align)

    def stats(self, pred, gt):
        valid = F.depth_valid_mask(gt, self.ignore_index)
        if self.align:
            pred = F.align_scale_shift(pred, gt, valid)
        return F.depth_stats(pred, gt, valid)

    def scores(self, stats):
        suffix = '_aligned' if self.align else ''
        return {k + suffix: v for k, v in F.depth_scores(stats).items()}


class NormalsEvaluator(TaskEvaluator):
    """Angular error statistics of unit normals; median from a histogram
    with ``bin_deg`` degree bins."""

    def __init__(self, bin_deg: float = 0.01, ignore_index=255):
        super().__init__(ignore_index)
        self.bin_deg = bin_deg

    def stats(self, pred, gt):
        valid = F.normals_valid_mask(gt, self.ignore_index)
        angles = F.angular_errors(pred, gt)[valid]
        return F.normals_stats(angles, self.bin_deg)

    def scores(self, stats):
        return F.normals_scores(stats, self.bin_deg)


class EdgeEvaluator(TaskEvaluator):
    """Mean absolute error of edge probabilities (optionally after per-image
    scale-and-shift alignment); when ``odsf``, BSDS ODS F; when
    ``tolerance_f``, the fast tolerance ODS F (``odsF_tol``,
    :func:`~s4t_mm.evaluation.functional.edge_tolerance_stats`)."""

    def __init__(self,
                 align: Optional[str] = None,
                 odsf: bool = False,
                 thresholds: Thresholds = 19,
                 max_dist: float = 0.0075,
                 thin: bool = True,
                 tolerance_f: bool = False,
                 tolerance_px: int = 1,
                 ignore_index=255):
        super().__init__(ignore_index)
        self.align = _check_align('edge_align', align)
        self.odsf = odsf
        self.thresholds = _thresholds(thresholds)
        self.max_dist = max_dist
        self.thin = thin
        if tolerance_px < 0:
            raise ValueError(
                f'edge_tolerance_px must be >= 0 pixels, got {tolerance_px}')
        self.tolerance_f = tolerance_f
        self.tolerance_px = tolerance_px

    def stats(self, pred, gt):
        valid = gt[0] != self.ignore_index
        pred, gt = pred[0], gt[0]
        l1_pred = F.align_scale_shift(pred, gt, valid) if self.align else pred
        stats = F.l1_stats(l1_pred, gt, valid)
        if self.odsf:
            stats.update(
                F.edge_match_stats(pred, gt, valid, self.thresholds,
                                   self.max_dist, self.thin))
        if self.tolerance_f:
            stats['tol'] = F.edge_tolerance_stats(
                pred, gt, valid, self.thresholds, self.tolerance_px)
        return stats

    def scores(self, stats):
        scores = {
            'l1_aligned' if self.align else 'l1': F.l1_scores(stats)['l1']
        }
        if self.odsf:
            scores['odsF'] = F.ods_f(stats)
        if self.tolerance_f:
            scores['odsF_tol'] = F.ods_f([s['tol'] for s in stats])
        return scores


class SaliencyEvaluator(TaskEvaluator):
    """maxF (F-beta, beta^2 = ``beta2``) over probability thresholds."""

    def __init__(self,
                 thresholds: Thresholds = 99,
                 beta2: float = 0.3,
                 ignore_index=255):
        super().__init__(ignore_index)
        self.thresholds = _thresholds(thresholds)
        self.beta2 = beta2

    def stats(self, pred, gt):
        return F.binary_pr_stats(pred, gt, gt != self.ignore_index,
                                 self.thresholds)

    def scores(self, stats):
        return dict(maxF=F.max_f(stats, self.beta2))


TASK_EVALUATORS = {
    'semseg': CategoricalEvaluator,
    'human_parts': CategoricalEvaluator,
    'depth': DepthEvaluator,
    'normals': NormalsEvaluator,
    'edge': EdgeEvaluator,
    'saliency': SaliencyEvaluator,
}
