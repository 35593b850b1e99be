"""Surface normals: three channels, L2-normalised."""
import torch
import torch.nn.functional as F

from s4t_mm.registry import MODELS
from .base_task_head import BaseTaskHead


@MODELS.register_module()
class NormalsHead(BaseTaskHead):
    """Unit surface normals, trained with L1 on the normalised output."""

    task = 'normals'
    default_loss = dict(type='MaskedL1Loss', normalize=True)

    def __init__(self, **kwargs):
        super().__init__(out_channels=3, **kwargs)

    def activate(self, raw: torch.Tensor) -> torch.Tensor:
        return F.normalize(raw, p=2, dim=1)
