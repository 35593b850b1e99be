"""Self-training on confident pixels: a test-time adaptation method of the
downstream project."""
from typing import Dict

import torch
import torch.nn as nn
import torch.nn.functional as F
from s4t_mm.registry import ADAPTERS
from s4t_mm.tta.adapters import BaseAdapter


@ADAPTERS.register_module()
class PseudoLabelAdapter(BaseAdapter):
    """Cross-entropy of the segmentation logits against their own argmax,
    on the pixels whose top probability reaches ``threshold``; only the
    affine parameters of the BatchNorm layers move.

    Args:
        task: the categorical task to self-train.
        threshold: confidence a pixel needs to count.
        **kwargs: see :class:`~s4t_mm.tta.adapters.BaseAdapter`.
    """

    def __init__(self, task: str = 'semseg', threshold: float = 0.0,
                 **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= threshold < 1.0:
            raise ValueError(f'threshold must be in [0, 1), got {threshold}')
        self.task = task
        self.threshold = threshold

    def select_parameters(self, model: nn.Module):
        return [(f'{name}.{pname}', p)
                for name, layer in model.named_modules()
                if isinstance(layer, nn.modules.batchnorm._BatchNorm)
                for pname, p in layer.named_parameters(recurse=False)
                if p.requires_grad]

    def objective(self, model: nn.Module,
                  inputs: torch.Tensor) -> Dict[str, torch.Tensor]:
        # mmseg's contract: mode='tensor' gives every task's raw output
        logits = model(inputs, mode='tensor')[self.task]
        confidence, pseudo = logits.detach().softmax(dim=1).max(dim=1)
        pseudo[confidence < self.threshold] = -1
        loss = F.cross_entropy(logits, pseudo, ignore_index=-1)
        return {f'{self.task}.pseudo_label_ce': loss}
