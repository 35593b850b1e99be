"""Prior-weighted normalisation statistics (Schneider et al., 2020)."""
from typing import Optional

import torch

from s4t_mm.registry import NORM_POLICIES
from .blended_stats_policy import BlendedStatsPolicy, LayerDecision


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

    def decide(self, name, layer, mean, var, num_images=None
               ) -> LayerDecision:
        """``a = n / (N + n)`` for a batch of ``n = num_images``."""
        if num_images is None:
            raise ValueError('the prior policy weighs the batch by its '
                             'number of images: pass num_images')
        weight = torch.tensor(num_images / (self.prior_strength +
                                            num_images), device=mean.device)
        return LayerDecision(weight)
