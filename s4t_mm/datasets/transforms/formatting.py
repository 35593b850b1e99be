"""Pack an image and its task maps into model inputs and a data sample."""
from typing import Sequence

import numpy as np
import torch
from mmcv.transforms import BaseTransform

from s4t_mm.datasets.transforms.geometric import task_maps
from s4t_mm.registry import TRANSFORMS
from s4t_mm.structures import MultiTaskDataSample


@TRANSFORMS.register_module()
class PackMultiTaskInputs(BaseTransform):
    """Pack ``results`` into ``dict(inputs, data_samples)``.

    ``inputs`` is the ``(3, H, W)`` image tensor in its loaded dtype (uint8
    BGR); ``data_samples`` is a :class:`MultiTaskDataSample` with
    ``gt_<task>`` as a ``(C, H, W)`` tensor: long for categorical maps
    (semseg, human parts), float32 otherwise (depth, edge, saliency with
    C = 1, normals with C = 3). Keys in ``meta_keys`` that are present become
    the sample's metainfo (``cam2img``: the camera's pinhole matrix where
    the dataset knows it; ``canonical_camera``: what
    :class:`CanonicalCamera` did).
    """

    def __init__(self,
                 meta_keys: Sequence[str] = ('img_path', 'ori_shape',
                                             'img_shape', 'pad_shape',
                                             'scale_factor', 'flip',
                                             'flip_direction', 'domain',
                                             'sample_idx', 'cam2img',
                                             'canonical_camera')) -> None:
        self.meta_keys = tuple(meta_keys)

    def transform(self, results: dict) -> dict:
        img = results['img']
        if img.ndim == 2:
            img = img[..., None]
        inputs = torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))

        sample = MultiTaskDataSample()
        for key, spec in task_maps(results):
            task = key[len('gt_'):]
            sample.set_gt(task, _to_chw_tensor(task, results[key], spec))
        sample.set_metainfo(
            {k: results[k]
             for k in self.meta_keys if k in results})
        return dict(inputs=inputs, data_samples=sample)

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(meta_keys={self.meta_keys})'


def _to_chw_tensor(task, array, spec) -> torch.Tensor:
    array = array[..., None] if array.ndim == 2 else array
    if array.shape[2] != spec.channels:
        raise ValueError(f'gt_{task} has {array.shape[2]} channels, its '
                         f'TaskMapSpec declares {spec.channels}')
    dtype = np.int64 if spec.categorical else np.float32
    return torch.from_numpy(
        np.ascontiguousarray(array.transpose(2, 0, 1), dtype=dtype))
