"""Task maps as float arrays at an image's size, their valid values, and
the value range one colour map spans over several of them."""
from typing import Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.structures import PixelData

from s4t_mm.structures.task_maps import task_map_spec


def shared_range(values: Sequence[np.ndarray]) -> Tuple[float, float]:
    """(2nd, 98th) percentile of all values together, so one colour means
    one value in every map drawn with it."""
    flat = [np.asarray(v, dtype=np.float64).ravel() for v in values]
    flat = np.concatenate(flat) if flat else np.zeros(0)
    flat = flat[np.isfinite(flat)]
    if flat.size == 0:
        return 0.0, 1.0
    low, high = np.percentile(flat, (2, 98))
    if high <= low:
        high = low + 1.0
    return float(low), float(high)


def valid_values(task: str, data, is_gt: bool, size) -> np.ndarray:
    """Channel 0 of ``data`` at ``size``; of ground truth only the pixels
    that carry a label."""
    data = as_chw(data, size)[0]
    if is_gt:
        data = data[data != task_map_spec(task).ignore_value]
    return data


def as_chw(data, size) -> np.ndarray:
    """A float ``(C, H, W)`` array at ``size`` (nearest resize)."""
    if isinstance(data, PixelData):
        data = data.data
    tensor = torch.as_tensor(data).detach().cpu()
    if tensor.ndim == 2:
        tensor = tensor[None]
    if tensor.ndim != 3:
        raise ValueError(f'a task map must be (C, H, W) or (H, W), got '
                         f'shape {tuple(tensor.shape)}')
    tensor = tensor.float()
    if tuple(tensor.shape[1:]) != tuple(size):
        tensor = F.interpolate(tensor[None], size=tuple(size),
                               mode='nearest')[0]
    return tensor.numpy()


def as_rgb_image(image) -> np.ndarray:
    """``image`` as contiguous ``(H, W, 3)`` uint8 (gray repeated)."""
    image = np.asarray(image)
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f'image must be (H, W, 3) RGB, got shape '
                         f'{image.shape}')
    return np.ascontiguousarray(image, dtype=np.uint8)
