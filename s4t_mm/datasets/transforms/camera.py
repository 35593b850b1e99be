"""Resample an image to a canonical camera before the network.

A depth or normal network learns the focal length of its training camera:
objects of a given size and distance cover a given number of pixels
(CAM-Convs, Facil et al., CVPR 2019, arXiv 1904.02028; Metric3D, Yin et
al., ICCV 2023, arXiv 2307.10984, whose canonical camera space transform
resizes the image to a canonical focal length). Where the intrinsics are
known, resizing the image by ``f_canonical / f`` shows the network the
scene as its training camera would have, and the predictions map back by
resizing them to the original grid: a pure change of intrinsics moves no
point in the camera frame, so the z-depth along each pixel's ray, the
camera-frame normals, the classes and the occlusion edges at each ray are
what they were. Camera height, pitch and the scene itself have no such
canonical form.
"""
from typing import Optional

import mmcv
import numpy as np
from mmcv.transforms import BaseTransform

from s4t_mm.registry import TRANSFORMS

#: ``'auto'``: area averaging to shrink, bilinear to enlarge (OpenCV's
#: advice); else one of mmcv's interpolation names for both.
INTERPOLATIONS = ('auto', 'nearest', 'bilinear', 'bicubic', 'area',
                  'lanczos')
MISSING = ('error', 'skip')


def resized_intrinsics(cam2img, scale_w: float, scale_h: float) -> list:
    """The pinhole matrix of an image resized by ``(scale_w, scale_h)`` with
    half-pixel-centred sampling (cv2's): ``f' = s f`` and
    ``c' = s (c + 1/2) - 1/2`` (pixel centres at integer coordinates)."""
    k = np.array(cam2img, dtype=np.float64)[:3, :3]
    scale = np.array([scale_w, scale_h])
    k[:2, :2] *= scale[:, None]
    k[:2, 2] = scale * (k[:2, 2] + 0.5) - 0.5
    return k.tolist()


@TRANSFORMS.register_module()
class CanonicalCamera(BaseTransform):
    """Resize the image so that its focal length in pixels is
    ``focal_length`` along both axes (the source camera's), keeping the
    task maps at the original size (a test-time transform: the model's
    prediction is mapped back to ``ori_shape``, where they are scored).

    Needs ``cam2img`` (a (3, 3) pinhole matrix, pixel centres at integer
    coordinates) in the results; samples without it raise
    (``missing='error'``) or pass unchanged (``'skip'``). An image already
    at ``focal_length`` is left untouched, bit for bit.

    Updates ``img``, ``img_shape``, ``scale_factor`` (w, h) and ``cam2img``
    (the resized image's) and adds ``canonical_camera``:
    ``dict(focal_length, scale_factor, ori_cam2img)``.

    Args:
        focal_length: the canonical focal length in pixels.
        interpolation: of the image, one of :data:`INTERPOLATIONS`.
        missing: what a sample without ``cam2img`` does.
    """

    def __init__(self, focal_length: float, interpolation: str = 'auto',
                 missing: str = 'error') -> None:
        if not focal_length > 0:
            raise ValueError(f'focal_length must be > 0 pixels, got '
                             f'{focal_length}')
        if interpolation not in INTERPOLATIONS:
            raise ValueError(f'unknown interpolation {interpolation!r}; '
                             f'valid: {", ".join(INTERPOLATIONS)}')
        if missing not in MISSING:
            raise ValueError(f'missing must be one of {", ".join(MISSING)}, '
                             f'got {missing!r}')
        self.focal_length = float(focal_length)
        self.interpolation = interpolation
        self.missing = missing

    def transform(self, results: dict) -> Optional[dict]:
        cam2img = results.get('cam2img')
        if cam2img is None:
            if self.missing == 'skip':
                return results
            raise KeyError(
                f'CanonicalCamera needs the camera intrinsics cam2img of '
                f'{results.get("img_path", "the sample")}; its dataset '
                "does not provide them (missing='skip' passes such samples "
                'unchanged)')
        k = np.asarray(cam2img, dtype=np.float64)
        h, w = results['img'].shape[:2]
        size = (max(1, int(round(w * self.focal_length / k[0, 0]))),
                max(1, int(round(h * self.focal_length / k[1, 1]))))
        if size != (w, h):
            shrink = size[0] * size[1] < w * h
            interpolation = self.interpolation if \
                self.interpolation != 'auto' else \
                ('area' if shrink else 'bilinear')
            results['img'] = mmcv.imresize(results['img'], size,
                                           interpolation=interpolation)
        scale = (size[0] / w, size[1] / h)
        results['img_shape'] = (size[1], size[0])
        results['scale_factor'] = scale
        if size != (w, h):
            results['cam2img'] = resized_intrinsics(k, *scale)
        results['canonical_camera'] = dict(
            focal_length=self.focal_length, scale_factor=scale,
            ori_cam2img=k[:3, :3].tolist())
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(focal_length='
                f'{self.focal_length}, interpolation='
                f'{self.interpolation!r}, missing={self.missing!r})')
