"""Depth predicted as its logarithm: positive by construction."""
import torch
from s4t_mm.models.heads import DepthHead
from s4t_mm.registry import MODELS


@MODELS.register_module()
class LogDepthHead(DepthHead):
    """The depth task from one channel holding ``log(depth)``.

    A relative error costs the same at every distance, and the prediction
    can never be negative. The loss (masked L1, as :class:`DepthHead`)
    compares metres with the label.
    """

    def activate(self, raw: torch.Tensor) -> torch.Tensor:
        return raw.exp().clamp(min=self.min_depth)

    def loss(self, raw: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.loss_module(
            self.activate(self.resize(raw, target.shape[-2:])), target)
