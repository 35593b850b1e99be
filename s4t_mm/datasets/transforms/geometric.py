"""Geometric transforms that keep the image and every task map aligned.

Task maps are ``results['gt_<task>']`` for ``task in results['tasks']``.
They are always resampled with nearest neighbour, so class ids stay ids,
depth never blends a valid value with the ignore value 255, and unit normals
stay unit length. How a map pads and flips comes from its
:class:`~s4t_mm.structures.task_maps.TaskMapSpec`, not from its task name.
"""
from typing import Iterator, Optional, Sequence, Tuple, Union

import numpy as np
from mmcv.transforms import BaseTransform, Pad, RandomResize, Resize
from mmcv.transforms.utils import cache_randomness

from s4t_mm.registry import TRANSFORMS
from s4t_mm.structures.task_maps import TaskMapSpec, task_map_spec


def task_maps(results: dict) -> Iterator[Tuple[str, TaskMapSpec]]:
    """``(key, spec)`` of every task map present in ``results``."""
    for task in results.get('tasks', ()):
        key = f'gt_{task}'
        if key in results:
            yield key, task_map_spec(task)


def resize_nearest(array: np.ndarray, size: Tuple[int, int]) -> np.ndarray:
    """Nearest-neighbour resize of an ``(H, W[, C])`` array to ``size=(h, w)``.

    Output pixel ``i`` takes input pixel ``floor((i + 0.5) * H / h)``: the
    input pixel whose centre is nearest to where a half-pixel-centred
    bilinear resize (cv2, used for the image) samples, so maps stay aligned
    with the resized image. Works for any dtype and channel count.
    """
    in_h, in_w = array.shape[:2]
    rows = _nearest_index(in_h, size[0])
    cols = _nearest_index(in_w, size[1])
    # two 1-D gathers: the same pixels as array[rows[:, None], cols], and
    # several times faster than the broadcast 2-D index
    return array.take(rows, axis=0).take(cols, axis=1)


def _nearest_index(in_size: int, out_size: int) -> np.ndarray:
    index = ((np.arange(out_size) + 0.5) * (in_size / out_size)).astype(int)
    return np.minimum(index, in_size - 1)


@TRANSFORMS.register_module()
class MultiTaskResize(Resize):
    """mmcv's ``Resize`` that also resizes every task map to the new image
    size (nearest neighbour).

    Args: as ``mmcv.transforms.Resize``: ``scale`` (w, h) or
    ``scale_factor``, ``keep_ratio``, ``interpolation`` (of the image only).
    Updates ``img``, ``img_shape``, ``scale``, ``scale_factor`` (w, h),
    ``keep_ratio`` and every task map.
    """

    def _resize_seg(self, results: dict) -> None:
        super()._resize_seg(results)
        size = results['img'].shape[:2]
        for key, _ in task_maps(results):
            results[key] = resize_nearest(results[key], size)


@TRANSFORMS.register_module()
class MultiTaskRandomResize(RandomResize):
    """mmcv's ``RandomResize`` with :class:`MultiTaskResize` doing the resize.

    Args:
        scale: base scale (w, h) to multiply with a ratio drawn from
            ``ratio_range``, or two scales bounding a uniform draw.
        ratio_range: (min, max) ratio.
        **resize_kwargs: ``keep_ratio``, ``interpolation`` of
            :class:`MultiTaskResize`.
    """

    def __init__(self,
                 scale: Union[Tuple[int, int], Sequence[Tuple[int, int]]],
                 ratio_range: Optional[Tuple[float, float]] = None,
                 **resize_kwargs) -> None:
        super().__init__(
            scale, ratio_range, resize_type=MultiTaskResize, **resize_kwargs)


@TRANSFORMS.register_module()
class MultiTaskRandomCrop(BaseTransform):
    """Crop a random ``crop_size=(h, w)`` window from the image and all maps.

    Images smaller than the crop keep their size along that side (pad
    afterwards). Updates ``img``, ``img_shape``, every task map and adds
    ``crop_bbox`` (y1, y2, x1, x2).
    """

    def __init__(self, crop_size: Union[int, Tuple[int, int]]) -> None:
        if isinstance(crop_size, int):
            crop_size = (crop_size, crop_size)
        if len(crop_size) != 2 or min(crop_size) <= 0:
            raise ValueError(f'crop_size must be a positive int or (h, w), '
                             f'got {crop_size}')
        self.crop_size = tuple(crop_size)

    @cache_randomness
    def _crop_bbox(self, img_shape: Tuple[int, int]) -> Tuple[int, ...]:
        margin_h = max(img_shape[0] - self.crop_size[0], 0)
        margin_w = max(img_shape[1] - self.crop_size[1], 0)
        y1 = np.random.randint(0, margin_h + 1)
        x1 = np.random.randint(0, margin_w + 1)
        return (y1, y1 + min(self.crop_size[0], img_shape[0]), x1,
                x1 + min(self.crop_size[1], img_shape[1]))

    def transform(self, results: dict) -> dict:
        y1, y2, x1, x2 = self._crop_bbox(results['img'].shape[:2])
        results['img'] = results['img'][y1:y2, x1:x2]
        for key, _ in task_maps(results):
            results[key] = results[key][y1:y2, x1:x2]
        results['img_shape'] = results['img'].shape[:2]
        results['crop_bbox'] = (y1, y2, x1, x2)
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(crop_size={self.crop_size})'


@TRANSFORMS.register_module()
class MultiTaskRandomFlip(BaseTransform):
    """Flip the image and all maps horizontally with probability ``prob``.

    A horizontal flip mirrors the x axis of the camera, so the channel named
    by ``TaskMapSpec.flip_sign_channel`` (x of the normals) changes sign on
    labelled pixels; ignored pixels keep the ignore value. Updates ``img``,
    every task map, ``flip`` and ``flip_direction`` as mmcv's RandomFlip.
    """

    def __init__(self, prob: float, direction: str = 'horizontal') -> None:
        if not 0 <= prob <= 1:
            raise ValueError(f'prob must lie in [0, 1], got {prob}')
        if direction != 'horizontal':
            raise ValueError(
                f'direction {direction!r} is not supported; only '
                f'"horizontal" (a vertical flip would need the sign of the '
                f'normals y axis, which TaskMapSpec does not declare)')
        self.prob = prob
        self.direction = direction

    @cache_randomness
    def _do_flip(self) -> bool:
        return np.random.rand() < self.prob

    def transform(self, results: dict) -> dict:
        flip = self._do_flip()
        results['flip'] = flip
        results['flip_direction'] = self.direction if flip else None
        if flip:
            results['img'] = np.ascontiguousarray(results['img'][:, ::-1])
            for key, spec in task_maps(results):
                results[key] = flip_task_map(results[key], spec)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(prob={self.prob}, '
                f'direction={self.direction!r})')


def flip_task_map(array: np.ndarray, spec: TaskMapSpec) -> np.ndarray:
    """Mirror an ``(H, W[, C])`` map left-right, negating the spec's
    ``flip_sign_channel`` where the pixel is labelled."""
    flipped = np.ascontiguousarray(array[:, ::-1])
    channel = spec.flip_sign_channel
    if channel is not None:
        # labelled: some channel differs from the ignore value (compared
        # plane by plane: a reduction over the short last axis is slow)
        labelled = flipped[..., 0] != spec.ignore_value
        for c in range(1, flipped.shape[-1]):
            labelled |= flipped[..., c] != spec.ignore_value
        values = flipped[..., channel]
        np.negative(values, out=values, where=labelled)
    return flipped


@TRANSFORMS.register_module()
class MultiTaskPad(Pad):
    """mmcv's ``Pad`` (bottom/right) that pads each task map with its
    ``TaskMapSpec.ignore_value``, so padding is never a label.

    Args:
        size: fixed padded size (w, h), as mmcv's Pad.
        size_divisor: pad height and width up to a multiple of this.
        pad_to_square: pad to a square first.
        pad_val: value for the image padding.
    Updates ``img``, ``img_shape``, every task map; adds ``pad_shape``,
    ``pad_fixed_size``, ``pad_size_divisor``.
    """

    def __init__(self,
                 size: Optional[Tuple[int, int]] = None,
                 size_divisor: Optional[int] = None,
                 pad_to_square: bool = False,
                 pad_val: Union[int, float] = 0) -> None:
        super().__init__(
            size=size,
            size_divisor=size_divisor,
            pad_to_square=pad_to_square,
            pad_val=dict(img=pad_val))

    def _pad_seg(self, results: dict) -> None:
        super()._pad_seg(results)
        pad_h, pad_w = results['pad_shape'][:2]
        for key, spec in task_maps(results):
            array = results[key]
            extra = [(0, max(pad_h - array.shape[0], 0)),
                     (0, max(pad_w - array.shape[1], 0))]
            extra += [(0, 0)] * (array.ndim - 2)
            results[key] = np.pad(
                array, extra, mode='constant',
                constant_values=spec.ignore_value)
