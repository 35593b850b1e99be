"""Semantic segmentation (also human parts): logits -> class ids."""
import torch

from s4t_mm.registry import MODELS
from .base_task_head import BaseTaskHead


@MODELS.register_module()
class SemSegHead(BaseTaskHead):
    """Per-pixel classification over ``num_classes`` classes.

    Args:
        num_classes: number of classes; the raw output has this many
            channels.
        task: task name the head serves (``'semseg'`` or ``'human_parts'``).
    """

    default_loss = dict(type='PixelCrossEntropyLoss')

    def __init__(self, num_classes: int, task: str = 'semseg', **kwargs):
        if num_classes < 2:
            raise ValueError(f'num_classes must be >= 2, got {num_classes}')
        self.task = task
        self.num_classes = num_classes
        super().__init__(out_channels=num_classes, **kwargs)

    def activate(self, raw: torch.Tensor) -> torch.Tensor:
        return raw.argmax(dim=1, keepdim=True)

    def activate_soft(self, raw: torch.Tensor) -> torch.Tensor:
        return raw.softmax(dim=1)
