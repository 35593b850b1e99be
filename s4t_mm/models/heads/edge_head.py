"""Occlusion/object edges: one logit channel, balanced BCE."""
import torch

from s4t_mm.registry import MODELS
from .base_task_head import BaseTaskHead


@MODELS.register_module()
class EdgeHead(BaseTaskHead):
    """Edge logits; the prediction is the edge probability."""

    task = 'edge'
    default_loss = dict(type='BalancedBCELoss', pos_weight=0.95)

    def __init__(self, **kwargs):
        super().__init__(out_channels=1, **kwargs)

    def activate(self, raw: torch.Tensor) -> torch.Tensor:
        return raw.sigmoid()
