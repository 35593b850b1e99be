"""L1 over labelled pixels, optionally on L2-normalised predictions."""
import torch
import torch.nn as nn
import torch.nn.functional as F

from s4t_mm.registry import MODELS
from s4t_mm.structures.task_maps import IGNORE_INDEX


@MODELS.register_module()
class MaskedL1Loss(nn.Module):
    """Mean absolute error over pixels whose target is labelled.

    A pixel counts when none of its target channels equals ``ignore_index``;
    the sum of absolute errors over its channels is divided by the number of
    such pixels (the convention of multi-task dense prediction code, so a
    3-channel normal map weighs three times a depth map per pixel).

    Args:
        normalize: L2-normalise the prediction over channels first (surface
            normals).
        ignore_index: target value of unlabelled pixels; None labels all.

    Shapes: ``pred`` and ``target`` (N, C, H, W). Returns a scalar.
    """

    def __init__(self, normalize: bool = False,
                 ignore_index: float = IGNORE_INDEX):
        super().__init__()
        self.normalize = normalize
        self.ignore_index = ignore_index

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if pred.shape != target.shape:
            raise ValueError(f'prediction of shape {tuple(pred.shape)} does '
                             f'not match target of shape '
                             f'{tuple(target.shape)}')
        if self.normalize:
            pred = F.normalize(pred, p=2, dim=1)
        if self.ignore_index is None:
            return (pred - target).abs().sum() / (pred.numel() / pred.shape[1])
        labelled = (target != self.ignore_index).all(dim=1, keepdim=True)
        error = (pred - target).abs() * labelled
        return error.sum() / labelled.sum().clamp(min=1)
