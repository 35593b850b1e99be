"""Prior-weighted normalisation statistics (Schneider et al., 2020)."""
from typing import Optional

import torch

from s4t_mm.registry import NORM_POLICIES
from .blended_stats_policy import BlendedStatsPolicy


@NORM_POLICIES.register_module(name='prior')
class PriorNormPolicy(BlendedStatsPolicy):
    """The source statistics count as ``prior_strength`` samples beside the
    ``n`` images of the adapted batch: every BatchNorm layer normalises with
    ``(N * source + n * batch) / (N + n)`` (Schneider et al., "Improving
    robustness against common corruptions by covariate shift adaptation",
    NeurIPS 2020, Eq. 2; their best N for batches of 8 lay around 16).

    ``prior_strength=0`` is the batch's own statistics in every layer (as
    BN-adapt with momentum 1); large values keep the source's.

    Args:
        prior_strength: N, the weight of the source statistics in images.
        layers: only these BatchNorm layers adapt (a regular expression,
            see :class:`BlendedStatsPolicy`); None: all.
        live_steps: the gradient steps blend the source statistics with
            their own batch's (see :class:`BlendedStatsPolicy`, ours).
    """

    def __init__(self, prior_strength: float = 16.0,
                 layers: Optional[str] = None,
                 live_steps: bool = False):
        super().__init__(layers, live_steps)
        if not prior_strength >= 0:
            raise ValueError(f'prior_strength must be >= 0, got '
                             f'{prior_strength}')
        self.prior_strength = float(prior_strength)
        self._batch_size = 0

    def before_steps(self, model, inputs: torch.Tensor) -> None:
        self._batch_size = int(inputs.shape[0])
        super().before_steps(model, inputs)

    def target_weight(self, name, layer, mean, var) -> torch.Tensor:
        n = self._batch_size
        return torch.tensor(n / (self.prior_strength + n),
                            device=mean.device)
