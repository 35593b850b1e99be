"""Surface-normal loss on the angle between prediction and target."""
import torch
import torch.nn as nn

from s4t_mm.registry import MODELS
from s4t_mm.structures.task_maps import IGNORE_INDEX


@MODELS.register_module()
class CosineNormalsLoss(nn.Module):
    """Mean of ``1 - cos(pred, target)`` over labelled pixels.

    The cosine is taken over the channel axis, each vector divided by its
    length plus ``eps``, so the loss ignores the prediction's length and only
    pulls its direction. The S4T reference trains normals this way when
    Taskonomy is the source (its NYUD-v2 / PASCAL-Context models use L1 on
    the normalised output instead).

    Args:
        eps: added to both vector lengths (the reference's 1e-6), which keeps
            the gradient finite at a zero-length prediction.
        ignore_index: target value of unlabelled pixels (all channels); None
            labels every pixel.

    Shapes: ``pred`` and ``target`` (N, C, H, W). Returns a scalar; 0 when
    no pixel is labelled.
    """

    def __init__(self, eps: float = 1e-6,
                 ignore_index: float = IGNORE_INDEX):
        super().__init__()
        if eps <= 0:
            raise ValueError(f'eps must be > 0, got {eps}')
        self.eps = eps
        self.ignore_index = ignore_index

    def forward(self, pred: torch.Tensor,
                target: torch.Tensor) -> torch.Tensor:
        if pred.shape != target.shape:
            raise ValueError(f'prediction of shape {tuple(pred.shape)} does '
                             f'not match target of shape '
                             f'{tuple(target.shape)}')
        if self.ignore_index is None:
            labelled = torch.ones_like(target[:, :1], dtype=torch.bool)
        else:
            labelled = (target != self.ignore_index).all(dim=1, keepdim=True)
        target = torch.where(labelled, target, torch.zeros_like(target))
        dot = (pred * target).sum(dim=1, keepdim=True)
        cos = dot / (pred.norm(dim=1, keepdim=True) + self.eps) / (
            target.norm(dim=1, keepdim=True) + self.eps)
        return ((1 - cos) * labelled).sum() / labelled.sum().clamp(min=1)
