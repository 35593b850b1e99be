"""Normalise, pad and batch images together with every task's label map."""
import math
from numbers import Number
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn.functional as F
from mmengine.model import BaseDataPreprocessor
from mmengine.structures import PixelData

from s4t_mm.registry import MODELS
from s4t_mm.structures.multi_task_data_sample import GT_PREFIX
from s4t_mm.structures.task_maps import task_map_spec


@MODELS.register_module()
class MultiTaskDataPreprocessor(BaseDataPreprocessor):
    """Batch images and per-task maps for a multi-task model.

    Images are converted BGR -> RGB (optional), normalised, and padded at the
    bottom/right to a common size: ``size`` if given, else the largest image
    in the batch rounded up to ``size_divisor``. Every ``gt_<task>`` map is
    padded with that task's ignore value (``task_pad_vals`` overrides the
    defaults of :mod:`s4t_mm.structures.task_maps`), so padding never becomes
    a label. A map of another size than its image (a test pipeline that
    resampled the image but kept the labels at the original size, as
    mmseg's do and :class:`~s4t_mm.datasets.transforms.CanonicalCamera`
    does) is left as it is: the prediction is mapped back to its
    ``ori_shape``. ``img_shape`` keeps the unpadded size so predictions can
    be cropped back; ``pad_shape`` and ``batch_input_shape`` record the
    batch.

    Args:
        mean, std: per-channel statistics in the output channel order.
        size: fixed (h, w) to pad to.
        size_divisor: pad so both sides are divisible by it.
        pad_val: image padding value (after normalisation).
        task_pad_vals: per-task padding values overriding the defaults.
        bgr_to_rgb: flip the channel order of 3-channel inputs.
    """

    def __init__(self,
                 mean: Optional[Sequence[Number]] = None,
                 std: Optional[Sequence[Number]] = None,
                 size: Optional[Sequence[int]] = None,
                 size_divisor: Optional[int] = None,
                 pad_val: Number = 0,
                 task_pad_vals: Optional[Dict[str, Number]] = None,
                 bgr_to_rgb: bool = False,
                 non_blocking: bool = False):
        super().__init__(non_blocking)
        if (mean is None) != (std is None):
            raise ValueError('mean and std must be given together, got '
                             f'mean={mean} and std={std}')
        self._enable_normalize = mean is not None
        if self._enable_normalize:
            self.register_buffer('mean', torch.tensor(mean).view(-1, 1, 1),
                                 False)
            self.register_buffer('std', torch.tensor(std).view(-1, 1, 1),
                                 False)
        self.size = tuple(size) if size is not None else None
        self.size_divisor = size_divisor
        self.pad_val = pad_val
        self.task_pad_vals = dict(task_pad_vals or {})
        self.bgr_to_rgb = bgr_to_rgb

    def task_pad_val(self, task: str) -> Number:
        return self.task_pad_vals.get(task, task_map_spec(task).ignore_value)

    def forward(self, data: dict, training: bool = False) -> dict:
        data = self.cast_data(data)
        inputs: List[torch.Tensor] = data['inputs']
        data_samples = data.get('data_samples')
        if isinstance(inputs, torch.Tensor) and inputs.dim() == 4:
            inputs = list(inputs)
        for i, img in enumerate(inputs):
            if img.is_floating_point() and not torch.isfinite(img).all():
                where = ''
                if data_samples is not None:
                    where = f' ({data_samples[i].metainfo.get("img_path")})'
                raise ValueError(f'input image {i} of the batch{where} has '
                                 'NaN or infinite values; images must be '
                                 'finite')
        inputs = [self._normalize(img) for img in inputs]
        batch_shape = self._batch_shape(inputs)
        batch = torch.stack([self._pad(img, batch_shape, self.pad_val)
                             for img in inputs])
        if data_samples is not None:
            for img, sample in zip(inputs, data_samples):
                sample.set_metainfo(dict(
                    img_shape=tuple(img.shape[-2:]),
                    pad_shape=batch_shape,
                    batch_input_shape=batch_shape))
                for key in sample.keys():
                    if key.startswith(GT_PREFIX):
                        field = sample.get(key)
                        if field.shape != tuple(img.shape[-2:]):
                            continue  # scored at ori_shape, left as is
                        task = key[len(GT_PREFIX):]
                        padded = self._pad(field.data, batch_shape,
                                           self.task_pad_val(task))
                        sample.set_field(
                            PixelData(data=padded,
                                      metainfo=field.metainfo), key)
        return dict(inputs=batch, data_samples=data_samples)

    def _normalize(self, img: torch.Tensor) -> torch.Tensor:
        if img.dim() != 3:
            raise ValueError('each input image must be a (C, H, W) tensor, '
                             f'got shape {tuple(img.shape)}')
        if self.bgr_to_rgb and img.size(0) == 3:
            img = img[[2, 1, 0]]
        img = img.float()
        if self._enable_normalize:
            img = (img - self.mean) / self.std
        return img

    def _batch_shape(self, inputs: List[torch.Tensor]):
        if self.size is not None:
            return self.size
        h = max(img.shape[-2] for img in inputs)
        w = max(img.shape[-1] for img in inputs)
        if self.size_divisor:
            h = int(math.ceil(h / self.size_divisor)) * self.size_divisor
            w = int(math.ceil(w / self.size_divisor)) * self.size_divisor
        return (h, w)

    @staticmethod
    def _pad(tensor: torch.Tensor, shape, value: Number) -> torch.Tensor:
        pad_h = shape[0] - tensor.shape[-2]
        pad_w = shape[1] - tensor.shape[-1]
        if pad_h < 0 or pad_w < 0:
            raise ValueError(f'map of size {tuple(tensor.shape[-2:])} is '
                             f'larger than the padded batch size {shape}')
        if pad_h == 0 and pad_w == 0:
            return tensor
        return F.pad(tensor, (0, pad_w, 0, pad_h), value=value)
