"""One image's ground truth and predictions for several dense tasks."""
from typing import Dict, List, Optional, Sequence

import torch
from mmengine.structures import BaseDataElement, PixelData
from torch import Tensor

from .task_maps import task_map_spec

GT_PREFIX = 'gt_'
PRED_PREFIX = 'pred_'


class MultiTaskDataSample(BaseDataElement):
    """Data sample holding per-task maps as :class:`PixelData`.

    Every task ``t`` may carry two fields, each a ``PixelData`` whose
    ``data`` is a ``(C, H, W)`` tensor:

    - ``gt_<t>``: ground truth (semseg/human_parts: long class ids with 255 as
      ignore; depth: metres; normals: unit vectors; edge/saliency: 0/1),
    - ``pred_<t>``: the evaluated prediction at input resolution (class ids,
      metres, unit normals, probabilities).

    Field names follow mmseg's ``gt_sem_seg`` / ``pred_sem_seg`` convention so
    visualisers and metrics can find them by prefix.

    Examples:
        >>> sample = MultiTaskDataSample()
        >>> sample.set_gt('depth', torch.rand(1, 4, 4))
        >>> sample.gt_tasks
        ['depth']
    """

    def set_gt(self, task: str, data: Tensor) -> None:
        self.set_field(PixelData(data=data), GT_PREFIX + task)

    def set_pred(self, task: str, data: Tensor) -> None:
        self.set_field(PixelData(data=data), PRED_PREFIX + task)

    def gt(self, task: str) -> Optional[Tensor]:
        """The ground-truth map of ``task``, or None when it is absent."""
        field = self.get(GT_PREFIX + task)
        return None if field is None else field.data

    def pred(self, task: str) -> Optional[Tensor]:
        field = self.get(PRED_PREFIX + task)
        return None if field is None else field.data

    @property
    def gt_tasks(self) -> List[str]:
        return _tasks_with_prefix(self, GT_PREFIX)

    @property
    def pred_tasks(self) -> List[str]:
        return _tasks_with_prefix(self, PRED_PREFIX)


def without_ground_truth(sample: BaseDataElement) -> BaseDataElement:
    """A copy of any data sample (ours or mmseg's) without its ``gt_*``
    fields; metainfo and other fields are shared, not copied.

    Test-time adaptation only ever sees samples passed through this, so
    labels cannot reach an adaptation objective.
    """
    stripped = sample.__class__(metainfo=sample.metainfo)
    for key in sample.keys():
        if not key.startswith(GT_PREFIX):
            stripped.set_field(sample.get(key), key)
    return stripped


def stack_ground_truth(data_samples: Sequence[MultiTaskDataSample],
                       tasks: Sequence[str], size) -> Dict[str, Tensor]:
    """Each task's ground truth batched, (N, C_t, H, W) with (H, W) the
    batched input ``size``; samples without a task's label contribute an
    all-ignore map."""
    targets = {}
    for task in tasks:
        maps = [s.gt(task) for s in data_samples]
        if all(m is None for m in maps):
            available = sorted({t for s in data_samples for t in s.gt_tasks})
            raise KeyError(f'no ground truth for task {task!r} in the '
                           f'batch; the samples carry {available}. Add it '
                           'to the dataset tasks or remove the head')
        template = next(m for m in maps if m is not None)
        ignore = task_map_spec(task).ignore_value
        targets[task] = torch.stack([
            m if m is not None else torch.full_like(template, ignore)
            for m in maps
        ])
        if tuple(targets[task].shape[-2:]) != tuple(size):
            raise ValueError(
                f'{task} ground truth of size '
                f'{tuple(targets[task].shape[-2:])} does not match the '
                f'batched input size {tuple(size)}')
    return targets


def _tasks_with_prefix(sample: BaseDataElement, prefix: str) -> List[str]:
    return sorted(k[len(prefix):] for k in sample.keys()
                  if k.startswith(prefix))
