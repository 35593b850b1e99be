"""BN-adapt: re-estimate normalisation statistics on target batches."""
from typing import Optional

import torch
from torch.nn.modules.batchnorm import _BatchNorm

from s4t_mm.registry import ADAPTERS, NORM_POLICIES
from .base_adapter import BaseAdapter


@ADAPTERS.register_module()
class NormStatsAdapter(BaseAdapter):
    """Update the running statistics of every BatchNorm layer with target
    batches; no gradient step, no parameter moves.

    Each adaptation step is one forward pass of the whole model (backbone
    and heads) in train mode. With
    ``momentum=1.0`` and one step per batch (episodic protocol) prediction
    uses exactly the batch's own statistics (Schneider et al., 2020); smaller
    momenta blend source and target statistics.

    The norm policy (default ``'batch_stats'``, the method above) may be
    any that adapts statistics; an estimating one writes them before the
    forward passes.

    Args:
        momentum: BatchNorm momentum while adapting; None keeps the layers'.
    """

    uses_gradients = False

    def __init__(self, momentum: Optional[float] = None, **kwargs):
        super().__init__(**kwargs)
        if not self.norm_policy.adapts_statistics:
            valid = [name for name, cls in NORM_POLICIES.module_dict.items()
                     if cls.adapts_statistics]
            raise ValueError(
                'NormStatsAdapter needs a norm_policy that adapts '
                f'statistics, got {self.norm_policy.name!r}; valid: '
                f'{", ".join(valid)}')
        if momentum is not None and not 0.0 < momentum <= 1.0:
            raise ValueError(f'momentum must lie in (0, 1], got {momentum}')
        self.momentum = momentum

    def select_parameters(self, model):
        return []

    def bind(self, model):
        layers = [m for m in model.modules() if isinstance(m, _BatchNorm)]
        if not layers:
            raise ValueError('NormStatsAdapter found no BatchNorm layer in '
                             'the model')
        if self.momentum is not None:
            for layer in layers:
                layer.momentum = self.momentum
        return super().bind(model)

    def objective(self, model, inputs: torch.Tensor):
        # the full forward, so BatchNorms in heads/decoders adapt too; an
        # estimating policy wrote the statistics before the steps
        if self.norm_policy.uses_batch_statistics:
            model(inputs, mode='tensor')
        return {}
