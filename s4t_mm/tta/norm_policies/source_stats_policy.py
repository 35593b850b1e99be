"""Keep the source statistics while adapting."""
import torch.nn as nn

from s4t_mm.registry import NORM_POLICIES
from .base_norm_policy import BaseNormPolicy


@NORM_POLICIES.register_module(name='source_stats')
class SourceStatsPolicy(BaseNormPolicy):
    """The model adapts in evaluation mode: normalisation layers keep the
    source running statistics, only the adapted parameters move."""

    def set_mode(self, model: nn.Module) -> None:
        model.eval()
