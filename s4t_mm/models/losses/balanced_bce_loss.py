"""Binary cross-entropy that balances rare positives (edges, saliency)."""
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from s4t_mm.registry import MODELS
from s4t_mm.structures.task_maps import IGNORE_INDEX


@MODELS.register_module()
class BalancedBCELoss(nn.Module):
    """BCE on logits with positives weighted ``w`` and negatives ``1 - w``.

    With ``pos_weight=0.95`` (the S4T/ATRC edge setting) a positive pixel
    counts 19 times a negative one. ``pos_weight=None`` uses the fraction of
    negatives among the labelled pixels of the batch instead.

    Shapes: ``logits`` and ``target`` (N, 1, H, W), target in {0, 1} or
    ``ignore_index``. Returns the mean over labelled pixels.
    """

    def __init__(self, pos_weight: Optional[float] = 0.95,
                 ignore_index: float = IGNORE_INDEX):
        super().__init__()
        if pos_weight is not None and not 0.0 < pos_weight < 1.0:
            raise ValueError(f'pos_weight must lie in (0, 1) or be None, got '
                             f'{pos_weight}')
        self.pos_weight = pos_weight
        self.ignore_index = ignore_index

    def forward(self, logits: torch.Tensor,
                target: torch.Tensor) -> torch.Tensor:
        labelled = target != self.ignore_index
        target = torch.where(labelled, target, torch.zeros_like(target))
        if self.pos_weight is None:
            num = labelled.sum().clamp(min=1)
            w = ((1.0 - target) * labelled).sum() / num
        else:
            w = torch.as_tensor(self.pos_weight, dtype=logits.dtype,
                                device=logits.device)
        weight = (w * target + (1.0 - w) * (1.0 - target)) * labelled
        loss = F.binary_cross_entropy_with_logits(
            logits, target.to(logits.dtype), weight=weight, reduction='sum')
        return loss / labelled.sum().clamp(min=1)
