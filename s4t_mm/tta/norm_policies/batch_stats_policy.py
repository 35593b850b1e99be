"""Normalise with each batch's own statistics while adapting."""
import torch.nn as nn

from s4t_mm.registry import NORM_POLICIES
from .base_norm_policy import BaseNormPolicy


@NORM_POLICIES.register_module(name='batch_stats')
class BatchStatsPolicy(BaseNormPolicy):
    """The model adapts in train mode: BatchNorm layers normalise each step
    with the batch's statistics and fold them into their running statistics
    with their momentum, which predictions then use (the S4T reference,
    TENT, BN-adapt)."""

    uses_batch_statistics = True
    adapts_statistics = True

    def set_mode(self, model: nn.Module) -> None:
        model.train()
