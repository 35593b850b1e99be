"""What MultiTaskMetric measures for each task.

A task evaluator turns one image's ``(C, H, W)`` prediction and ground truth
into small additive statistics (:meth:`stats`) and the dataset's list of them
into named scores (:meth:`scores`), and declares which way each score is
better. Evaluators are registered in :data:`TASK_EVALUATORS` by class name;
a task spec (:mod:`s4t_mm.tasks`) names its evaluator and the scores that
enter delta_m, so tasks scored alike share one evaluator.
"""
from typing import Dict, Optional, Sequence, Tuple, Union

import numpy as np
from torch import Tensor

from s4t_mm.registry import TASK_EVALUATORS
from . import functional as F
from .multi_task_gain import delta_m_candidates, metric_directions

Thresholds = Union[int, Sequence[float]]
Fit = Tuple[Tensor, Tensor]
ALIGN_MODES = (None, 'scale_shift')
# what one scale-and-shift fit covers: each image, or every image of one
# process() call (the test loader's batch, the S4T reference's choice)
ALIGN_SCOPES = ('per_image', 'per_batch')
EDGE_PREDS = ('probability', 'logit')


def _check_align(name: str, align: Optional[str]) -> Optional[str]:
    if align not in ALIGN_MODES:
        raise ValueError(
            f'unknown {name} {align!r}; choose one of {list(ALIGN_MODES)}')
    return align


def check_choice(name: str, value, valid: Sequence) -> None:
    if value not in valid:
        raise ValueError(f'unknown {name} {value!r}; valid: '
                         f'{", ".join(map(str, valid))}')


def _check_scope(scope: str) -> str:
    check_choice('alignment', scope, ALIGN_SCOPES)
    return scope


def _aligned_suffix(align: Optional[str], scope: str) -> str:
    if not align:
        return ''
    return '_batch_aligned' if scope == 'per_batch' else '_aligned'


def _aligned_variants(directions: Dict[str, str]) -> Dict[str, str]:
    """Each key with its alignment suffixes (see :func:`_aligned_suffix`)."""
    return {key + suffix: d for key, d in directions.items()
            for suffix in ('', '_aligned', '_batch_aligned')}


def _thresholds(value: Thresholds) -> np.ndarray:
    if isinstance(value, int):
        return F.even_thresholds(value)
    return np.asarray(sorted(value), dtype=np.float64)


class TaskEvaluator:
    """Per-image statistics and dataset scores of one task.

    A subclass declares, as class attributes, every score name it can
    return with the direction in which it improves (:attr:`directions`),
    and whether it can fit predictions to the gt by scale and shift
    (:attr:`aligns`: it then takes ``align`` and ``scope``, and
    :meth:`stats` takes a batch's ``fit``).
    """

    #: ``{score name: 'higher' | 'lower'}``, the better direction
    directions: Dict[str, str] = {}
    aligns: bool = False

    def __init__(self, ignore_index: float = 255):
        self.ignore_index = ignore_index

    def stats(self, pred: Tensor, gt: Tensor) -> F.Stats:
        raise NotImplementedError

    def fit_values(self, pred: Tensor, gt: Tensor) -> Optional[Fit]:
        """The ``(pred, gt)`` values a scale-and-shift fit of this image
        uses, so a batch's images can share one fit; None when the task
        fits none."""
        return None

    def scores(self, stats: Sequence[F.Stats]) -> Dict[str, float]:
        raise NotImplementedError


@TASK_EVALUATORS.register_module()
class CategoricalEvaluator(TaskEvaluator):
    """mIoU, mAcc, aAcc from a dataset-level confusion matrix.

    ``num_classes`` None is filled in by the metric before the first
    image, from its ``num_classes`` or the dataset's classes.
    """

    directions = dict(mIoU='higher', mAcc='higher', aAcc='higher')

    def __init__(self, num_classes: Optional[int] = None,
                 ignore_index: float = 255,
                 absent_iou: Optional[float] = None):
        super().__init__(ignore_index)
        if absent_iou is not None and not 0 <= absent_iou <= 1:
            raise ValueError(f'absent_class_iou must lie in [0, 1] or be '
                             f'None, got {absent_iou}')
        self.num_classes = num_classes
        self.absent_iou = absent_iou

    def stats(self, pred, gt):
        return dict(confusion=F.confusion_matrix(
            pred, gt, self.num_classes, int(self.ignore_index)))

    def scores(self, stats):
        scores = F.segmentation_scores(stats, self.absent_iou)
        scores.pop('IoU')
        return scores

    def per_class_iou(self, stats: Sequence[F.Stats]) -> np.ndarray:
        return F.segmentation_scores(stats, self.absent_iou)['IoU']


@TASK_EVALUATORS.register_module()
class DepthEvaluator(TaskEvaluator):
    """RMSE, abs_rel, log RMSE pooled over valid pixels (gt not ignore and
    positive), optionally after a scale-and-shift alignment: one fit per
    image, or one per batch given to :meth:`stats` as ``fit`` (``scope``
    names which, in the keys: ``_aligned`` or ``_batch_aligned``)."""

    directions = _aligned_variants(
        dict(rmse='lower', abs_rel='lower', log_rmse='lower'))
    aligns = True

    def __init__(self, align: Optional[str] = None, ignore_index=255,
                 scope: str = 'per_image'):
        super().__init__(ignore_index)
        self.align = _check_align('depth_align', align)
        self.scope = _check_scope(scope)

    def fit_values(self, pred, gt):
        if not self.align:
            return None
        valid = F.depth_valid_mask(gt, self.ignore_index)
        return pred[valid], gt[valid]

    def stats(self, pred, gt, fit: Optional[Fit] = None):
        valid = F.depth_valid_mask(gt, self.ignore_index)
        if self.align:
            pred = F.align_scale_shift(pred, gt, valid) if fit is None \
                else F.apply_scale_shift(pred, fit)
        return F.depth_stats(pred, gt, valid)

    def scores(self, stats):
        suffix = _aligned_suffix(self.align, self.scope)
        return {k + suffix: v for k, v in F.depth_scores(stats).items()}


@TASK_EVALUATORS.register_module()
class NormalsEvaluator(TaskEvaluator):
    """Angular error statistics of unit normals; median from a histogram
    with ``bin_deg`` degree bins."""

    directions = dict(mean='lower', median='lower', rmse='lower',
                      **{f'within_{t:g}': 'higher'
                         for t in F.NORMAL_ANGLE_THRESHOLDS})

    def __init__(self, bin_deg: float = 0.01, ignore_index=255):
        super().__init__(ignore_index)
        self.bin_deg = bin_deg

    def stats(self, pred, gt):
        valid = F.normals_valid_mask(gt, self.ignore_index)
        angles = F.angular_errors(pred, gt)[valid]
        return F.normals_stats(angles, self.bin_deg)

    def scores(self, stats):
        return F.normals_scores(stats, self.bin_deg)


@TASK_EVALUATORS.register_module()
class EdgeEvaluator(TaskEvaluator):
    """Mean absolute error of edge probabilities, or of the raw outputs they
    came from (``l1_input='logit'``), optionally after a scale-and-shift
    alignment (per image, or per batch as for depth); when ``odsf``, BSDS
    ODS F on the probabilities; when
    ``tolerance_f``, the fast tolerance ODS F (``odsF_tol``,
    :func:`~s4t_mm.evaluation.functional.edge_tolerance_stats`).

    ``l1`` is the paper's "edge error"; a model can lower it by predicting
    no edges at all, which ``odsF_tol`` does not reward."""

    directions = dict(_aligned_variants(dict(l1='lower')), odsF='higher',
                      odsF_tol='higher')
    aligns = True

    def __init__(self,
                 align: Optional[str] = None,
                 odsf: bool = False,
                 thresholds: Thresholds = 19,
                 max_dist: float = 0.0075,
                 thin: bool = True,
                 tolerance_f: bool = False,
                 tolerance_px: int = 1,
                 ignore_index=255,
                 scope: str = 'per_image',
                 l1_input: str = 'probability'):
        super().__init__(ignore_index)
        self.align = _check_align('edge_align', align)
        self.scope = _check_scope(scope)
        check_choice('edge_pred', l1_input, EDGE_PREDS)
        self.l1_input = l1_input
        self.odsf = odsf
        self.thresholds = _thresholds(thresholds)
        self.max_dist = max_dist
        self.thin = thin
        if tolerance_px < 0:
            raise ValueError(
                f'edge_tolerance_px must be >= 0 pixels, got {tolerance_px}')
        self.tolerance_f = tolerance_f
        self.tolerance_px = tolerance_px

    def _l1_pred(self, pred: Tensor) -> Tensor:
        return F.probability_logit(pred) if self.l1_input == 'logit' \
            else pred

    def fit_values(self, pred, gt):
        if not self.align:
            return None
        valid = gt[0] != self.ignore_index
        return self._l1_pred(pred[0])[valid], gt[0][valid]

    def stats(self, pred, gt, fit: Optional[Fit] = None):
        valid = gt[0] != self.ignore_index
        pred, gt = pred[0], gt[0]
        l1_pred = self._l1_pred(pred)
        if self.align:
            l1_pred = F.align_scale_shift(l1_pred, gt, valid) \
                if fit is None else F.apply_scale_shift(l1_pred, fit)
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
        suffix = _aligned_suffix(self.align, self.scope)
        scores = {'l1' + suffix: F.l1_scores(stats)['l1']}
        if self.odsf:
            scores['odsF'] = F.ods_f(stats)
        if self.tolerance_f:
            scores['odsF_tol'] = F.ods_f([s['tol'] for s in stats])
        return scores


@TASK_EVALUATORS.register_module()
class SaliencyEvaluator(TaskEvaluator):
    """maxF (F-beta, beta^2 = ``beta2``) over probability thresholds."""

    directions = dict(maxF='higher')

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


@TASK_EVALUATORS.register_module()
class L1Evaluator(TaskEvaluator):
    """Mean absolute error over labelled values, for any regression map:
    a new dense task can be scored by naming it in its spec."""

    directions = dict(l1='lower')

    def stats(self, pred, gt):
        return F.l1_stats(pred, gt, gt != self.ignore_index)

    def scores(self, stats):
        return F.l1_scores(stats)


#: The metric keys of the built-in tasks and their directions, and their
#: delta_m candidates (derived; :func:`metric_directions` and
#: :func:`delta_m_candidates` include tasks registered later).
METRIC_DIRECTIONS = metric_directions()
DELTA_M_KEYS = delta_m_candidates()
