"""Metric depth regression."""
import torch

from s4t_mm.registry import MODELS
from .base_task_head import BaseTaskHead


@MODELS.register_module()
class DepthHead(BaseTaskHead):
    """One-channel depth in metres, trained with masked L1.

    Predictions are clamped at ``min_depth`` so they stay positive (metrics
    such as abs_rel and log RMSE need it).
    """

    task = 'depth'
    default_loss = dict(type='MaskedL1Loss')

    def __init__(self, min_depth: float = 1e-3, **kwargs):
        self.min_depth = min_depth
        super().__init__(out_channels=1, **kwargs)

    def activate(self, raw: torch.Tensor) -> torch.Tensor:
        return raw.clamp(min=self.min_depth)
