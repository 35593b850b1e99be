"""Per-image statistics and dataset-level scores for dense prediction tasks.

Each ``*_stats`` function reduces one image to small additive statistics
(counts, sums, a confusion matrix, per-threshold counts, a sparse histogram),
so a distributed evaluator gathers a few numbers per image instead of full
maps. The matching ``*_scores`` function takes the list of per-image
statistics of the whole dataset and returns the metric values. Pixel-pooled
metrics are therefore computed over all valid pixels of the dataset, not
averaged per image.

Percentages (IoU, accuracies, F-measures, share of normals within an angle)
lie in 0..100, as mmseg reports them.
"""
from typing import Dict, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from torch import Tensor

Stats = Dict[str, Union[int, float, np.ndarray]]

# Depth is clamped to this many metres before taking logs, so a zero or
# negative prediction costs a large but finite log error.
MIN_LOG_DEPTH = 1e-3
NORMAL_ANGLE_THRESHOLDS = (11.25, 22.5, 30.0)


def _total(stats: Sequence[Stats], key: str):
    return sum(s[key] for s in stats)


def _ratio(num, den) -> float:
    return float(num) / float(den) if den > 0 else float('nan')


def even_thresholds(num: int) -> np.ndarray:
    """``num`` thresholds ``k / (num + 1)``, k = 1..num, as the BSDS code
    spaces them (19 gives 0.05, 0.10, ..., 0.95)."""
    if num < 1:
        raise ValueError(f'need at least one threshold, got {num}')
    return np.arange(1, num + 1, dtype=np.float64) / (num + 1)


# --------------------------------------------------------------- categorical
def confusion_matrix(pred: Tensor, gt: Tensor, num_classes: int,
                     ignore_index: int = 255) -> np.ndarray:
    """``(num_classes, num_classes)`` int64 counts, rows gt, columns pred.

    Pixels whose gt is ``ignore_index`` are left out. ``pred`` and ``gt`` are
    integer maps of the same shape.
    """
    valid = gt != ignore_index
    # ignored pixels become bin K*K, dropped below (faster than masking)
    g = torch.where(valid, gt, 0).long()
    p = torch.where(valid, pred, 0).long()
    for name, ids in (('gt', g), ('pred', p)):
        low, high = int(ids.min()), int(ids.max())
        if low < 0 or high >= num_classes:
            raise ValueError(
                f'{name} class id {high if high >= num_classes else low} '
                f'outside [0, {num_classes}) (num_classes={num_classes})')
    size = num_classes * num_classes
    index = torch.where(valid, g * num_classes + p, size)
    counts = torch.bincount(index.flatten(), minlength=size + 1)[:size]
    return counts.reshape(num_classes, num_classes).cpu().numpy().astype(
        np.int64)


def segmentation_scores(stats: Sequence[Stats],
                        absent_iou: Optional[float] = None
                        ) -> Dict[str, object]:
    """mIoU, mAcc, aAcc (percent) and per-class IoU from summed confusions.

    As in mmseg, a class that appears neither in gt nor in predictions has
    IoU NaN and is left out of the mean (likewise classes absent from gt
    for mAcc); with ``absent_iou`` (a fraction, 0 in the S4T reference) its
    IoU is that value instead and counts in the mean.
    """
    conf = _total(stats, 'confusion').astype(np.float64)
    tp = np.diag(conf)
    gt_area = conf.sum(1)
    union = gt_area + conf.sum(0) - tp
    absent = np.nan if absent_iou is None else absent_iou
    with np.errstate(invalid='ignore', divide='ignore'):
        iou = np.where(union > 0, tp / union, absent) * 100
        acc = np.where(gt_area > 0, tp / gt_area, np.nan) * 100
    return dict(
        IoU=iou,
        mIoU=_nanmean(iou),
        mAcc=_nanmean(acc),
        aAcc=_ratio(tp.sum(), conf.sum()) * 100)


def _nanmean(values: np.ndarray) -> float:
    return float(np.nanmean(values)) if np.isfinite(values).any() \
        else float('nan')


# --------------------------------------------------------------------- depth
def fit_scale_shift(pred: Tensor, gt: Tensor) -> Tuple[Tensor, Tensor]:
    """``(s, t)`` minimising ``sum (s * pred + t - gt)^2`` over paired 1-D
    values, in float64 (the solution of the reference's ``np.linalg.lstsq``
    on ``[pred, 1]``); a constant prediction gets s = 0, t = mean gt."""
    p = pred.double()
    g = gt.double()
    p_mean, g_mean = p.mean(), g.mean()
    var = ((p - p_mean)**2).mean()
    cov = ((p - p_mean) * (g - g_mean)).mean()
    scale = cov / var if var > 0 else torch.zeros_like(var)
    return scale, g_mean - scale * p_mean


def apply_scale_shift(pred: Tensor, fit: Tuple[Tensor, Tensor]) -> Tensor:
    """``s * pred + t`` in float64, returned in ``pred``'s dtype."""
    scale, shift = fit
    return (pred.double() * scale + shift).to(pred.dtype)


def align_scale_shift(pred: Tensor, gt: Tensor, valid: Tensor) -> Tensor:
    """``s * pred + t`` with (s, t) the least-squares fit of pred to gt on
    ``valid`` pixels (:func:`fit_scale_shift`)."""
    if not valid.any():
        return pred
    return apply_scale_shift(pred, fit_scale_shift(pred[valid], gt[valid]))


def probability_logit(prob: Tensor) -> Tensor:
    """The raw output ``log(p / (1 - p))`` whose sigmoid is ``prob``.

    Probabilities are clamped into the open float32 interval first, so the
    logit stays finite: a float32 sigmoid keeps the raw value exactly (to
    rounding) within about [-87, 16.6] and saturates beyond.
    """
    p = prob.double().clamp(min=torch.finfo(torch.float32).tiny,
                            max=1 - 2**-24)
    return torch.log(p / (1 - p)).to(prob.dtype)


def depth_valid_mask(gt: Tensor, ignore_index: float = 255) -> Tensor:
    """Pixels with a usable depth label: not ignored, finite and positive
    (abs_rel and log errors need gt > 0)."""
    return (gt != ignore_index) & torch.isfinite(gt) & (gt > 0)


def depth_stats(pred: Tensor, gt: Tensor, valid: Tensor) -> Stats:
    """Sums of squared, relative and squared-log errors over valid pixels."""
    p = pred[valid].double()
    g = gt[valid].double()
    diff = p - g
    log_diff = torch.log(p.clamp(min=MIN_LOG_DEPTH)) - torch.log(g)
    return dict(
        n=int(valid.sum()),
        sq_err=float((diff**2).sum()),
        abs_rel=float((diff.abs() / g).sum()),
        sq_log_err=float((log_diff**2).sum()))


def depth_scores(stats: Sequence[Stats]) -> Dict[str, float]:
    """RMSE, abs_rel and log RMSE pooled over every valid pixel of the
    dataset (sqrt of the mean over all pixels, not a mean of per-image
    RMSEs), the convention of the S4T reference evaluation."""
    n = _total(stats, 'n')
    return dict(
        rmse=_ratio(_total(stats, 'sq_err'), n)**0.5,
        abs_rel=_ratio(_total(stats, 'abs_rel'), n),
        log_rmse=_ratio(_total(stats, 'sq_log_err'), n)**0.5)


# ------------------------------------------------------------------- normals
def normals_valid_mask(gt: Tensor, ignore_index: float = 255) -> Tensor:
    """``(H, W)`` mask of pixels whose ``(3, H, W)`` gt is not all ignore."""
    return ~(gt == ignore_index).all(dim=0)


def angular_errors(pred: Tensor, gt: Tensor) -> Tensor:
    """Angles in degrees between ``(3, H, W)`` normal maps, both normalised
    first; ``(H, W)``. Uses 2 * atan2(|a - b|, |a + b|), accurate for small
    and large angles alike."""
    # sums of squares along dim 0: much faster than Tensor.norm(dim=0)
    def length(x):
        return (x * x).sum(dim=0, keepdim=True).sqrt()

    a = pred.double()
    b = gt.double()
    a = a / length(a).clamp(min=1e-12)
    b = b / length(b).clamp(min=1e-12)
    return torch.rad2deg(2 * torch.atan2(length(a - b), length(a + b)))[0]


def normals_stats(angles: Tensor, bin_deg: float = 0.01) -> Stats:
    """Sums, within-threshold counts and a sparse histogram of the valid
    pixels' angles (degrees).

    The histogram has ``bin_deg`` wide bins over [0, 180] and is stored as
    occupied bin ids and counts, so its size is bounded by both the pixel
    count and the bin count.
    """
    angles = angles.double().flatten()
    num_bins = int(round(180 / bin_deg))
    bins = (angles / bin_deg).long().clamp(0, num_bins - 1)
    ids, counts = torch.unique(bins, return_counts=True)
    return dict(
        n=angles.numel(),
        sum=float(angles.sum()),
        sum_sq=float((angles**2).sum()),
        within=np.array([int((angles < t).sum())
                         for t in NORMAL_ANGLE_THRESHOLDS], dtype=np.int64),
        hist_ids=ids.cpu().numpy().astype(np.int32),
        hist_counts=counts.cpu().numpy().astype(np.int32))


def normals_scores(stats: Sequence[Stats],
                   bin_deg: float = 0.01) -> Dict[str, float]:
    """Mean, RMSE and median angle (degrees) and % of pixels within 11.25,
    22.5 and 30 degrees, over all valid pixels of the dataset.

    The median is the centre of the histogram bin holding the middle angle
    (the upper middle one when the count is even), so it is within
    ``bin_deg / 2`` of it: 0.005 degrees with the default bins.
    """
    n = _total(stats, 'n')
    within = _total(stats, 'within')
    hist = np.bincount(
        np.concatenate([s['hist_ids'] for s in stats]),
        weights=np.concatenate([s['hist_counts'] for s in stats]),
        minlength=int(round(180 / bin_deg)))
    if n > 0:
        middle = np.searchsorted(np.cumsum(hist), (n + 1) / 2)
        median = (middle + 0.5) * bin_deg
    else:
        median = float('nan')
    scores = dict(
        mean=_ratio(_total(stats, 'sum'), n),
        median=float(median),
        rmse=_ratio(_total(stats, 'sum_sq'), n)**0.5)
    for t, count in zip(NORMAL_ANGLE_THRESHOLDS, within):
        scores[f'within_{t:g}'] = _ratio(count, n) * 100
    return scores


# ------------------------------------------------------- edges and saliency
def l1_stats(pred: Tensor, gt: Tensor, valid: Tensor) -> Stats:
    """Sum of absolute errors over valid pixels."""
    return dict(
        n=int(valid.sum()),
        abs_err=float((pred[valid].double() - gt[valid].double()).abs().sum()))


def l1_scores(stats: Sequence[Stats]) -> Dict[str, float]:
    return dict(l1=_ratio(_total(stats, 'abs_err'), _total(stats, 'n')))


def edge_match_stats(pred: Tensor,
                     gt: Tensor,
                     valid: Tensor,
                     thresholds: np.ndarray,
                     max_dist: float = 0.0075,
                     thin: bool = True) -> Stats:
    """BSDS boundary matching counts per threshold for one ``(H, W)`` map.

    At each threshold the binarised (optionally thinned) prediction is
    matched one-to-one to gt edge pixels within ``max_dist`` times the image
    diagonal (pyEdgeEval's port of the BSDS matcher). Ignored pixels are
    removed from both maps first. Returns int64 arrays of shape ``(T,)``:
    matched gt pixels ``count_r`` of ``sum_r`` gt pixels and matched
    predicted pixels ``count_p`` of ``sum_p`` predicted pixels.
    """
    try:
        from pyEdgeEval import correspond_pixels
    except ImportError as err:
        raise ImportError(
            'edge odsF needs pyEdgeEval (pip install pyedgeeval); or '
            'evaluate edges without it (edge_odsf=False)') from err
    if thin:
        from skimage.morphology import thin as thin_fn
    valid = valid.cpu().numpy()
    prob = np.where(valid, pred.cpu().numpy(), 0).astype(
        np.float64 if pred.dtype == torch.float64 else np.float32)
    # compare in the prediction's precision, so a probability equal to a
    # threshold counts as positive
    thresholds = np.asarray(thresholds).astype(prob.dtype)
    gt_edges = (gt.cpu().numpy() > 0.5) & valid
    num_gt = int(gt_edges.sum())
    stats = {k: np.zeros(len(thresholds), dtype=np.int64)
             for k in ('count_r', 'sum_r', 'count_p', 'sum_p')}
    for i, thr in enumerate(thresholds):
        pred_edges = prob >= thr
        if thin:
            pred_edges = thin_fn(pred_edges)
        stats['sum_p'][i] = pred_edges.sum()
        stats['sum_r'][i] = num_gt
        if num_gt and pred_edges.any():
            match_pred, match_gt, _, _ = correspond_pixels(
                pred_edges, gt_edges, max_dist=max_dist)
            stats['count_p'][i] = (match_pred > 0).sum()
            stats['count_r'][i] = (match_gt > 0).sum()
    return stats


def edge_tolerance_stats(pred: Tensor,
                         gt: Tensor,
                         valid: Tensor,
                         thresholds: np.ndarray,
                         tolerance: int = 1) -> Stats:
    """Edge precision/recall counts per threshold with a pixel tolerance,
    for one ``(H, W)`` map: a fast stand-in for the BSDS matcher.

    A predicted edge pixel (``pred >= thr``) is correct when a gt edge pixel
    lies within ``tolerance`` pixels (a square window); a gt edge pixel is
    recalled when a predicted one lies within the window. Unlike BSDS there
    is no one-to-one matching and no thinning, so a thick band along a true
    edge is not penalised; but a model cannot score by predicting no edges
    (recall 0) or everything (precision = edge density). Ignored pixels are
    removed from both maps. Returns the keys of :func:`edge_match_stats`, so
    :func:`ods_f` pools them.
    """
    if tolerance < 0:
        raise ValueError(f'tolerance must be >= 0 pixels, got {tolerance}')
    thr = torch.as_tensor(np.asarray(thresholds), dtype=pred.dtype,
                          device=pred.device)
    gt_edges = (gt > 0.5) & valid
    pred_edges = (pred[None] >= thr[:, None, None]) & valid  # (T, H, W)
    window = 2 * tolerance + 1

    def near(edges: Tensor) -> Tensor:
        return torch.nn.functional.max_pool2d(
            edges[:, None].float(), window, stride=1,
            padding=tolerance)[:, 0] > 0

    count_p = (pred_edges & near(gt_edges[None])).sum((1, 2))
    count_r = (gt_edges & near(pred_edges)).sum((1, 2))
    num = len(thr)
    return dict(
        count_p=count_p.cpu().numpy().astype(np.int64),
        sum_p=pred_edges.sum((1, 2)).cpu().numpy().astype(np.int64),
        count_r=count_r.cpu().numpy().astype(np.int64),
        sum_r=np.full(num, int(gt_edges.sum()), dtype=np.int64))


def _f_measure(precision: np.ndarray, recall: np.ndarray,
               beta2: float) -> np.ndarray:
    den = beta2 * precision + recall
    with np.errstate(invalid='ignore', divide='ignore'):
        f = (1 + beta2) * precision * recall / den
    return np.where(den > 0, f, 0.0)


def ods_f(stats: Sequence[Stats]) -> float:
    """Optimal-dataset-scale F (percent): precision and recall pooled over
    the dataset at each threshold, best F over thresholds (no interpolation
    between thresholds, unlike the BSDS MATLAB code)."""
    sum_p = _total(stats, 'sum_p')
    sum_r = _total(stats, 'sum_r')
    precision = _total(stats, 'count_p') / np.maximum(sum_p, 1)
    recall = _total(stats, 'count_r') / np.maximum(sum_r, 1)
    return float(_f_measure(precision, recall, 1.0).max()) * 100


def binary_pr_stats(pred: Tensor, gt: Tensor, valid: Tensor,
                    thresholds: np.ndarray) -> Stats:
    """True and predicted positives at each threshold (``pred >= thr``) and
    gt positives, over valid pixels."""
    prob = pred[valid].float() if pred.dtype != torch.float64 \
        else pred[valid]
    positive = gt[valid] > 0.5
    # compared in the prediction's precision, as in edge_match_stats
    thr = torch.as_tensor(thresholds, dtype=prob.dtype, device=prob.device)
    # bucket b holds probabilities in [thr[b-1], thr[b]); a threshold's
    # positives are the buckets above it.
    buckets = torch.bucketize(prob, thr, right=True)
    num = len(thresholds) + 1
    all_hist = torch.bincount(buckets, minlength=num)
    pos_hist = torch.bincount(buckets[positive], minlength=num)

    def at_or_above(hist):
        return hist.flip(0).cumsum(0).flip(0)[1:].cpu().numpy()

    return dict(
        tp=at_or_above(pos_hist).astype(np.int64),
        pred_pos=at_or_above(all_hist).astype(np.int64),
        gt_pos=int(positive.sum()))


def max_f(stats: Sequence[Stats], beta2: float = 0.3) -> float:
    """Maximum F-beta (percent) over thresholds of dataset-pooled precision
    and recall; beta^2 = 0.3 weighs precision more, the saliency custom."""
    tp = _total(stats, 'tp')
    precision = tp / np.maximum(_total(stats, 'pred_pos'), 1)
    recall = tp / max(_total(stats, 'gt_pos'), 1)
    return float(_f_measure(precision, recall, beta2).max()) * 100
