"""Label-consistent shifts of a labelled image, to simulate target domains
on the source data (the shift-response calibration of
:class:`~s4t_mm.tta.norm_policies.CalibratedNormPolicy`).

Only transforms that work on any labelled dataset: photometric ones of
ordinary training pipelines (the image changes, the labels do not) and
geometric ones that imitate another focal length, camera height or object
scale (image and every task map are resampled together). Not the embedded
renderer's scene presets or styles and not the ImageNet-C corruptions, so
a NYUD-v2 or Taskonomy model is calibrated the same way as an embedded one
and the corruption domains of the benchmarks stay unseen.

Geometry and labels: a zoom about the image centre is a change of focal
length, which leaves every pixel's camera-z depth and camera-frame normal
unchanged, so the task maps are only resampled (nearest neighbour, as
:mod:`.geometric` does); upsampling also softens the image. A zoom out
shrinks the image into its centre (smaller objects); the border is filled
by reflection in the image and marked ignored in every task map. A crop
keeps a central window at the image's own resolution (a narrower view,
other class frequencies and depth ranges, nothing resampled), a tilt the
top or bottom rows (another camera height or tilt; the small rotation's
change of the normals is ignored).
"""
from typing import Callable, Dict

import cv2
import numpy as np
from mmcv.transforms import BaseTransform

from s4t_mm.registry import TRANSFORMS
from .geometric import resize_nearest, task_maps


def _float(img: np.ndarray) -> np.ndarray:
    return img.astype(np.float32) / 255.0


def _uint8(img: np.ndarray) -> np.ndarray:
    return np.clip(np.round(img * 255.0), 0, 255).astype(np.uint8)


def colour(img, value, rng):
    """Per-channel gains ``1 + value * d`` (BGR), ``d`` = (-1, 0, 1): a
    white-balance change of relative size ``value``."""
    gains = 1.0 + value * np.array([-1.0, 0.0, 1.0], np.float32)
    return _uint8(_float(img) * gains)


def gamma(img, value, rng):
    """``img ** value`` (a tone curve; > 1 darkens the mid-tones)."""
    return _uint8(_float(img) ** value)


def brightness(img, value, rng):
    """Add ``value`` (a fraction of the range) to every pixel."""
    return _uint8(_float(img) + value)


def contrast(img, value, rng):
    """Scale the distance from the image's mean grey by ``value``."""
    x = _float(img)
    mean = x.mean()
    return _uint8((x - mean) * value + mean)


def blur(img, value, rng):
    """A Gaussian blur of standard deviation ``value`` pixels."""
    return cv2.GaussianBlur(img, (0, 0), sigmaX=value, sigmaY=value,
                            borderType=cv2.BORDER_REFLECT_101)


def noise(img, value, rng):
    """Gaussian sensor noise of standard deviation ``value`` (a fraction
    of the range), drawn per sample."""
    x = _float(img)
    return _uint8(x + rng.normal(0.0, value, x.shape).astype(np.float32))


def jpeg(img, value, rng):
    """JPEG compression at quality ``value`` (1-100)."""
    ok, data = cv2.imencode('.jpg', img, [cv2.IMWRITE_JPEG_QUALITY,
                                          int(value)])
    if not ok:
        raise RuntimeError('JPEG encoding failed')
    return cv2.imdecode(data, cv2.IMREAD_COLOR)


def overlay(img, value, rng):
    """Bright blobs in front of the scene (dirt, droplets, frost or glare
    on the lens): a smooth random field, drawn per sample, blended toward
    white with opacity ``value`` where it is high."""
    height, width = img.shape[:2]
    field = cv2.resize(rng.random((8, 8)).astype(np.float32),
                       (width, height), interpolation=cv2.INTER_CUBIC)
    mask = np.clip((field - 0.5) * 4.0, 0.0, 1.0)[..., None] * value
    return _uint8(_float(img) * (1 - mask) + mask)


#: ``kind: fn(img, value, rng) -> img`` (uint8 BGR in and out).
PHOTOMETRIC: Dict[str, Callable] = dict(
    colour=colour, gamma=gamma, brightness=brightness, contrast=contrast,
    blur=blur, noise=noise, jpeg=jpeg, overlay=overlay)


def _window(results: dict, y0: float, x0: float, h: float, w: float
            ) -> dict:
    """Resample the image (bilinear) and every task map (nearest) from the
    window at (y0, x0) of size (h, w), in pixels, back to the full size."""
    img = results['img']
    height, width = img.shape[:2]
    sx, sy = width / w, height / h
    affine = np.array([[sx, 0, -x0 * sx], [0, sy, -y0 * sy]], np.float32)
    results['img'] = cv2.warpAffine(img, affine, (width, height),
                                    flags=cv2.INTER_LINEAR,
                                    borderMode=cv2.BORDER_REFLECT_101)
    top, left = int(round(y0)), int(round(x0))
    rows = slice(top, top + int(round(h)))
    cols = slice(left, left + int(round(w)))
    for key, _ in task_maps(results):
        results[key] = resize_nearest(
            np.ascontiguousarray(results[key][rows, cols]), (height, width))
    return results


def zoom(results, value, rng):
    """A longer focal length: the central ``1 / value`` of the view
    (``value`` > 1) fills the image."""
    if value < 1:
        raise ValueError(f'zoom needs value >= 1, got {value}')
    height, width = results['img'].shape[:2]
    h, w = height / value, width / value
    return _window(results, (height - h) / 2, (width - w) / 2, h, w)


def _crop(results: dict, top: int, left: int, h: int, w: int) -> dict:
    """Keep the window at (top, left) of size (h, w) of the image and every
    task map, at their own resolution (no resampling)."""
    results['img'] = np.ascontiguousarray(
        results['img'][top:top + h, left:left + w])
    for key, _ in task_maps(results):
        results[key] = np.ascontiguousarray(
            results[key][top:top + h, left:left + w])
    # the cropped view is the image (predictions are scored at its size)
    results['img_shape'] = results['ori_shape'] = results['img'].shape[:2]
    return results


def crop(results, value, rng):
    """A narrower field of view at the same pixel scale: the central
    ``value`` (0 < value <= 1) of the height and width, not resampled
    (the image gets smaller)."""
    if not 0 < value <= 1:
        raise ValueError(f'crop needs 0 < value <= 1, got {value}')
    height, width = results['img'].shape[:2]
    h = max(1, int(round(height * value)))
    w = max(1, int(round(width * value)))
    return _crop(results, (height - h) // 2, (width - w) // 2, h, w)


def tilt(results, value, rng):
    """Another camera height or tilt at the same pixel scale: the top
    (``value`` < 0, looking up) or bottom (``value`` > 0, looking down)
    ``1 - |value|`` of the rows, full width, not resampled."""
    if not -1 < value < 1:
        raise ValueError(f'tilt needs -1 < value < 1, got {value}')
    height, width = results['img'].shape[:2]
    h = max(1, int(round(height * (1 - abs(value)))))
    return _crop(results, 0 if value < 0 else height - h, 0, h, width)


def zoom_out(results, value, rng):
    """A shorter focal length: the image shrunk by ``value`` (< 1) into its
    centre; the border reflects the image and is ignored in the maps."""
    if not 0 < value <= 1:
        raise ValueError(f'zoom_out needs 0 < value <= 1, got {value}')
    img = results['img']
    height, width = img.shape[:2]
    h = max(1, int(round(height * value)))
    w = max(1, int(round(width * value)))
    top, left = (height - h) // 2, (width - w) // 2
    small = cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)
    results['img'] = cv2.copyMakeBorder(
        small, top, height - h - top, left, width - w - left,
        cv2.BORDER_REFLECT_101)
    for key, spec in task_maps(results):
        array = results[key]
        out = np.full_like(array, spec.ignore_value)
        out[top:top + h, left:left + w] = resize_nearest(array, (h, w))
        results[key] = out
    return results


#: ``kind: fn(results, value, rng) -> results`` (image and task maps).
GEOMETRIC: Dict[str, Callable] = dict(zoom=zoom, zoom_out=zoom_out,
                                      crop=crop, tilt=tilt)


@TRANSFORMS.register_module()
class SimulatedShift(BaseTransform):
    """One simulated shift of ``results['img']`` (H, W, 3 uint8 BGR) and,
    for a geometric kind, of every task map (see the module docstring).

    Every sample of a simulated domain shares ``value`` (one camera, one
    sensor); only the noise is drawn per sample, from ``seed`` and
    ``results['sample_idx']``, so a sample is shifted the same way every
    time.

    Args:
        kind: a key of :data:`PHOTOMETRIC` (colour, gamma, brightness,
            contrast, blur, noise, jpeg, overlay) or :data:`GEOMETRIC` (zoom,
            zoom_out, crop, tilt).
        value: the kind's parameter (see its function).
        seed: of the per-sample draws.
    """

    def __init__(self, kind: str, value: float, seed: int = 0):
        if kind not in PHOTOMETRIC and kind not in GEOMETRIC:
            valid = ', '.join(list(PHOTOMETRIC) + list(GEOMETRIC))
            raise ValueError(f'unknown simulated shift {kind!r}; valid: '
                             f'{valid}')
        self.kind, self.value, self.seed = kind, float(value), int(seed)

    @property
    def geometric(self) -> bool:
        return self.kind in GEOMETRIC

    def transform(self, results: dict) -> dict:
        img = results['img']
        if img.ndim != 3 or img.shape[2] != 3:
            raise ValueError(f'SimulatedShift needs an (H, W, 3) image, got '
                             f'shape {img.shape}')
        rng = np.random.default_rng(
            [self.seed, int(results.get('sample_idx', 0))])
        if self.geometric:
            return GEOMETRIC[self.kind](results, self.value, rng)
        results['img'] = np.ascontiguousarray(
            PHOTOMETRIC[self.kind](img, self.value, rng))
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(kind={self.kind!r}, '
                f'value={self.value}, seed={self.seed})')
