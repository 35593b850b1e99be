"""Cross-entropy over pixels with an ignore label."""
import torch
import torch.nn as nn
import torch.nn.functional as F

from s4t_mm.registry import MODELS
from s4t_mm.structures.task_maps import IGNORE_INDEX


@MODELS.register_module()
class PixelCrossEntropyLoss(nn.Module):
    """Mean cross-entropy over labelled pixels.

    Args:
        ignore_index: label of unlabelled pixels.

    Shapes: ``logits`` (N, C, H, W), ``target`` (N, 1, H, W) or (N, H, W)
    class ids. Returns a scalar; 0 when no pixel is labelled.
    """

    def __init__(self, ignore_index: int = IGNORE_INDEX):
        super().__init__()
        self.ignore_index = ignore_index

    def forward(self, logits: torch.Tensor,
                target: torch.Tensor) -> torch.Tensor:
        if target.dim() == 4:
            target = target[:, 0]
        target = target.long()
        num_classes = logits.shape[1]
        labelled = target != self.ignore_index
        if labelled.any():
            bad = target[labelled]
            if int(bad.max()) >= num_classes or int(bad.min()) < 0:
                raise ValueError(
                    f'class id {int(bad.max())} is outside 0..'
                    f'{num_classes - 1} (the head predicts {num_classes} '
                    f'classes; {self.ignore_index} marks ignored pixels)')
        loss = F.cross_entropy(logits, target, ignore_index=self.ignore_index,
                               reduction='sum')
        return loss / labelled.sum().clamp(min=1)
