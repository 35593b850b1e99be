"""Cross-task consistency of one multi-task prediction, without labels.

Ours, after Zamir et al., "Robust Learning Through Cross-Task Consistency"
(CVPR 2020, arXiv 2006.04096), whose consistency energy (the disagreement
between a task's prediction and its prediction through another task,
standardised per path on in-domain data and averaged over paths)
correlates with the error. Their paths are learned transfer networks; ours
are analytic, so they need no training:

- ``normals_from_depth``: surface normals derived from the predicted depth
  (back-projected with the camera intrinsics ``cam2img``) against the
  predicted normals, mean angle in degrees over smooth pixels;
- ``semantic_boundaries``: the boundaries between the predicted classes
  against the edge head's probabilities, ``1 - F`` with a pixel tolerance.

:func:`path_statistics` and :func:`consistency_energy` standardise each
path as their ``scripts/energy_calc.py`` does: ``(loss - mean) / MAD``,
with the mean and the mean absolute deviation from it taken over the
images of an in-domain reference set (the source).

Conventions: depth is camera-z (z-buffer) depth, normals are unit vectors
in the OpenCV camera frame (x right, y down, z forward) facing the camera,
and ``cam2img`` is the ``(3, 3)`` pinhole matrix with pixel centres at
integer coordinates (OpenCV's; mmdet3d's key name).
"""
from typing import Dict, Mapping, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor

from .functional import angular_errors

#: The analytic paths, in the order :func:`consistency_losses` returns them.
CONSISTENCY_PATHS = ('normals_from_depth', 'semantic_boundaries')
#: Tasks each path reads.
PATH_TASKS = dict(normals_from_depth=('depth', 'normals'),
                  semantic_boundaries=('semseg', 'edge'))

Intrinsics = Union[Tensor, Sequence]


def as_intrinsics(cam2img: Intrinsics, num: int) -> Tensor:
    """``(num, 3, 3)`` float64 pinhole matrices from one ``(3, 3)`` (or
    mmdet3d's ``(4, 4)``) matrix for every image, or one per image."""
    k = torch.as_tensor(cam2img, dtype=torch.float64)
    if k.dim() not in (2, 3) or k.shape[-1] < 3 or k.shape[-2] < 3 or \
            (k.dim() == 3 and k.shape[0] != num):
        raise ValueError(f'cam2img must be a (3, 3) matrix or one per image '
                         f'({num}, 3, 3), got shape {tuple(k.shape)}')
    return k.expand(num, *k.shape[-2:])[:, :3, :3]


def backproject(depth: Tensor, cam2img: Intrinsics) -> Tensor:
    """Camera-frame points ``(N, 3, H, W)`` of a z-depth map ``(N, 1, H, W)``:
    ``z * K^-1 (u, v, 1)`` at every pixel centre ``(u, v)``."""
    n, _, h, w = depth.shape
    k = as_intrinsics(cam2img, n).to(depth.device)
    fx, fy = k[:, 0, 0, None, None], k[:, 1, 1, None, None]
    cx, cy = k[:, 0, 2, None, None], k[:, 1, 2, None, None]
    v, u = torch.meshgrid(
        torch.arange(h, dtype=torch.float64, device=depth.device),
        torch.arange(w, dtype=torch.float64, device=depth.device),
        indexing='ij')
    z = depth[:, 0].double()
    return torch.stack([z * (u - cx) / fx, z * (v - cy) / fy, z], dim=1)


def normals_from_depth(depth: Tensor, cam2img: Intrinsics,
                       max_relative_step: float = 0.05
                       ) -> Tuple[Tensor, Tensor]:
    """Unit normals ``(N, 3, H, W)`` of the surface a z-depth map
    ``(N, 1, H, W)`` describes, and where they are defined ``(N, H, W)``.

    The normal is the cross product of the central differences of the
    back-projected points along x and y, turned to face the camera: exact
    on a plane, where both differences lie in it. It is defined away from
    the border and where the depth of each of the four neighbours differs
    from the pixel's by at most ``max_relative_step`` of it (a surface, not
    an occlusion). Undefined pixels hold zeros.
    """
    points = backproject(depth, cam2img)
    du = points[..., 1:-1, 2:] - points[..., 1:-1, :-2]
    dv = points[..., 2:, 1:-1] - points[..., :-2, 1:-1]
    normal = torch.cross(du, dv, dim=1)
    centre = points[..., 1:-1, 1:-1]
    # the visible side: the normal points against the ray to the point
    facing = torch.where((normal * centre).sum(1, keepdim=True) > 0, -1.0,
                         1.0)
    normal = facing * normal
    length = normal.norm(dim=1, keepdim=True)
    z = depth[:, 0].double()
    mid = z[:, 1:-1, 1:-1]
    steps = torch.stack([z[:, 1:-1, 2:], z[:, 1:-1, :-2], z[:, 2:, 1:-1],
                         z[:, :-2, 1:-1]]) - mid
    smooth = (steps.abs() <= max_relative_step * mid.abs()).all(0) & \
        (mid > 0) & (length[:, 0] > 0)
    out = torch.zeros_like(points)
    out[..., 1:-1, 1:-1] = torch.where(
        smooth[:, None], normal / length.clamp(min=1e-300), 0.0)
    valid = torch.zeros(z.shape, dtype=torch.bool, device=depth.device)
    valid[:, 1:-1, 1:-1] = smooth
    return out, valid


def normals_disagreement(depth: Tensor, normals: Tensor,
                         cam2img: Intrinsics,
                         max_relative_step: float = 0.05) -> Tensor:
    """Mean angle (degrees) per image ``(N,)`` between the normals derived
    from ``depth`` (:func:`normals_from_depth`) and the predicted
    ``normals`` ``(N, 3, H, W)``, over the pixels where the derived ones are
    defined (NaN for an image without any)."""
    derived, valid = normals_from_depth(depth, cam2img, max_relative_step)
    out = []
    for i in range(depth.shape[0]):
        angles = angular_errors(normals[i], derived[i])
        out.append(angles[valid[i]].mean() if valid[i].any() else
                   torch.tensor(float('nan'), dtype=torch.float64))
    return torch.stack(out).to(depth.device)


def semantic_boundaries(labels: Tensor) -> Tensor:
    """``(N, H, W)`` bool: pixels of an ``(N, H, W)`` class map with a
    4-neighbour of another class (both sides of every boundary)."""
    boundary = torch.zeros(labels.shape, dtype=torch.bool,
                           device=labels.device)
    across_x = labels[:, :, 1:] != labels[:, :, :-1]
    across_y = labels[:, 1:] != labels[:, :-1]
    boundary[:, :, 1:] |= across_x
    boundary[:, :, :-1] |= across_x
    boundary[:, 1:] |= across_y
    boundary[:, :-1] |= across_y
    return boundary


def boundary_disagreement(edge_prob: Tensor, boundaries: Tensor,
                          tolerance: int = 1, eps: float = 1e-6) -> Tensor:
    """``1 - F`` per image ``(N,)`` between edge probabilities and a binary
    boundary map, both ``(N, H, W)``, each pixel matched within a square
    window of ``tolerance`` pixels (as :func:`~.functional.
    edge_tolerance_stats` scores edges, with soft counts):

    - precision: the share of the edge probability mass within the window
      of a boundary pixel;
    - recall: the mean over boundary pixels of the largest edge
      probability in their window.

    0 where they agree (also where both are empty), 1 where they share no
    pixel.
    """
    if tolerance < 0:
        raise ValueError(f'tolerance must be >= 0 pixels, got {tolerance}')
    edge = edge_prob.double()
    bound = boundaries.double()
    window = 2 * tolerance + 1

    def near(x):
        return F.max_pool2d(x[:, None], window, stride=1,
                            padding=tolerance)[:, 0]

    precision = ((edge * near(bound)).sum((1, 2)) + eps) / (
        edge.sum((1, 2)) + eps)
    recall = ((bound * near(edge)).sum((1, 2)) + eps) / (
        bound.sum((1, 2)) + eps)
    return 1 - 2 * precision * recall / (precision + recall)


def consistency_losses(predictions: Mapping[str, Tensor],
                       cam2img: Intrinsics = None,
                       paths: Sequence[str] = CONSISTENCY_PATHS,
                       max_relative_step: float = 0.05,
                       tolerance: int = 1) -> Dict[str, Tensor]:
    """Each path's loss per image ``(N,)`` of one batch of activated
    predictions at one size: ``semseg`` class probabilities or ids
    ``(N, C, H, W)`` / ``(N, H, W)``, ``depth`` ``(N, 1, H, W)``,
    ``normals`` ``(N, 3, H, W)``, ``edge`` probabilities ``(N, 1, H, W)``
    (what :meth:`MultiTaskEncoderDecoder.activated_outputs` gives, resized
    to the image). ``cam2img`` is needed by ``normals_from_depth``."""
    unknown = [p for p in paths if p not in CONSISTENCY_PATHS]
    if unknown or not paths:
        raise ValueError(f'unknown consistency paths {unknown or paths}; '
                         f'valid: {", ".join(CONSISTENCY_PATHS)}')
    missing = sorted({t for p in paths for t in PATH_TASKS[p]} -
                     set(predictions))
    if missing:
        raise KeyError(f'the paths {list(paths)} need predictions of '
                       f'{missing}; got {sorted(predictions)}')
    losses = {}
    if 'normals_from_depth' in paths:
        if cam2img is None:
            raise ValueError('normals_from_depth needs the camera '
                             'intrinsics cam2img')
        losses['normals_from_depth'] = normals_disagreement(
            predictions['depth'], predictions['normals'], cam2img,
            max_relative_step)
    if 'semantic_boundaries' in paths:
        semseg = predictions['semseg']
        labels = semseg.argmax(1) if semseg.dim() == 4 and \
            semseg.is_floating_point() else semseg.reshape(
                semseg.shape[0], *semseg.shape[-2:])
        losses['semantic_boundaries'] = boundary_disagreement(
            predictions['edge'][:, 0], semantic_boundaries(labels),
            tolerance)
    return losses


def path_statistics(losses: Mapping[str, Tensor]
                    ) -> Dict[str, Tuple[float, float]]:
    """``{path: (mean, MAD)}`` of per-image losses on the reference set,
    MAD the mean absolute deviation from the mean (Zamir et al.'s
    ``energy_calc.py``); NaN losses are left out."""
    stats = {}
    for path, values in losses.items():
        values = torch.as_tensor(values, dtype=torch.float64).flatten()
        values = values[~values.isnan()]
        if values.numel() < 2:
            raise ValueError(f'path {path!r} needs at least two finite '
                             f'reference losses, got {values.numel()}')
        mean = values.mean()
        mad = (values - mean).abs().mean()
        if not mad > 0:
            raise ValueError(f'path {path!r}: the reference losses do not '
                             f'vary (MAD 0), nothing to standardise by')
        stats[path] = (float(mean), float(mad))
    return stats


def consistency_energy(losses: Mapping[str, Tensor],
                       statistics: Mapping[str, Tuple[float, float]]
                       ) -> Tensor:
    """Energy per image ``(N,)``: the mean over paths of
    ``(loss - mean) / MAD`` with each path's reference ``statistics``
    (:func:`path_statistics`); about 0 on the reference set, higher is less
    consistent. A path whose loss is NaN for an image is left out of that
    image's mean."""
    missing = sorted(set(losses) - set(statistics))
    if missing or not losses:
        raise KeyError(f'no reference statistics for paths '
                       f'{missing or list(losses)}; have {sorted(statistics)}')
    standardised = torch.stack([
        (torch.as_tensor(loss, dtype=torch.float64) - statistics[p][0]) /
        statistics[p][1] for p, loss in losses.items()])
    return standardised.nanmean(0)
