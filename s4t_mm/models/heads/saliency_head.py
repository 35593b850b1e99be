"""Salient-object segmentation: one logit channel."""
import torch

from s4t_mm.registry import MODELS
from .base_task_head import BaseTaskHead


@MODELS.register_module()
class SaliencyHead(BaseTaskHead):
    """Saliency logits, trained with BCE balanced by the batch's label
    frequencies; the prediction is the saliency probability."""

    task = 'saliency'
    default_loss = dict(type='BalancedBCELoss', pos_weight=None)

    def __init__(self, **kwargs):
        super().__init__(out_channels=1, **kwargs)

    def activate(self, raw: torch.Tensor) -> torch.Tensor:
        return raw.sigmoid()
