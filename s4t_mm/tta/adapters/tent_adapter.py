"""TENT: minimise the entropy of the segmentation prediction by adapting the
affine parameters of normalisation layers."""
from typing import Dict

import torch

from s4t_mm.registry import ADAPTERS
from .base_adapter import BaseAdapter, norm_layers


def task_logits(model, inputs: torch.Tensor, task: str) -> torch.Tensor:
    """Raw logits of ``task`` at the feature resolution: from the model's
    ``task_outputs`` (an s4t_mm multi-task model), else the segmentation
    logits of ``mode='tensor'`` (an mmseg segmentor)."""
    task_outputs = getattr(model, 'task_outputs', None)
    if task_outputs is None:
        return model(inputs, mode='tensor')
    return task_outputs(inputs)[task]


@ADAPTERS.register_module()
class TentAdapter(BaseAdapter):
    """Mean per-pixel Shannon entropy of ``softmax(logits)`` of one task
    (Wang et al., ICLR 2021). Only the weights and biases of normalisation
    layers move; BatchNorm uses batch statistics.

    Args:
        task: the categorical task whose entropy is minimised.
        **kwargs: see :class:`BaseAdapter` (default optimizer SGD lr 1e-3,
            momentum 0.9, as in TENT).
    """

    def __init__(self, task: str = 'semseg', **kwargs):
        kwargs.setdefault('optimizer', dict(type='SGD', lr=1e-3,
                                            momentum=0.9))
        super().__init__(**kwargs)
        self.task = task

    def select_parameters(self, model):
        tasks = getattr(model, 'tasks', None)
        if tasks is not None and self.task not in tasks:
            raise ValueError(f'TentAdapter: the model has no {self.task!r} '
                             f'head; its heads are {list(tasks)}')
        selected = []
        for name, layer in norm_layers(model):
            for pname, p in layer.named_parameters(recurse=False):
                if p.requires_grad:
                    selected.append((f'{name}.{pname}', p))
        return selected

    def objective(self, model, inputs) -> Dict[str, torch.Tensor]:
        logits = task_logits(model, inputs, self.task)
        log_p = logits.log_softmax(dim=1)
        entropy = -(log_p.exp() * log_p).sum(dim=1).mean()
        return {f'{self.task}.entropy': entropy}
