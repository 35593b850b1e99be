"""Hybrid test-time normalisation: adapt the least shifted channels of the
early layers, keep the source statistics of the deep ones (Vianna et al.,
CoLLAs 2024)."""
from typing import Dict

import torch

from s4t_mm.registry import NORM_POLICIES
from .blended_stats_policy import BlendedStatsPolicy, LayerDecision


def adapted_channel_fraction(index: int, num_layers: int) -> float:
    """The share of channels the ``index``-th of ``num_layers`` BatchNorm
    layers (forward order, from 0) adapts: 1 at the first, falling linearly
    to 0 at the last (1 for a model with a single layer)."""
    if num_layers == 1:
        return 1.0
    return max(100.0 - index * (100.0 / (num_layers - 1)), 0.0) / 100.0


def wasserstein2(source_mean: torch.Tensor, source_var: torch.Tensor,
                 mean: torch.Tensor, var: torch.Tensor) -> torch.Tensor:
    """Per channel, the squared 2-Wasserstein distance between the
    Gaussians of the source's and the batch's statistics:
    ``(mu_s - mu_t)^2 + sigma_s^2 + sigma_t^2 - 2 sigma_s sigma_t``."""
    return (source_mean - mean) ** 2 + source_var + var - \
        2 * source_var.sqrt() * var.sqrt()


@NORM_POLICIES.register_module(name='hybrid_ttn')
class HybridTTNPolicy(BlendedStatsPolicy):
    """Hybrid-TTN (Vianna et al., "Channel-Selective Normalization for
    Label-Shift Robust Test-Time Adaptation", CoLLAs 2024, PMLR 274,
    arXiv 2402.04958): later layers are "more sensitive to label shift",
    so the share of channels that take the batch's statistics falls
    linearly from all of them in the first BatchNorm layer to none in the
    last (:func:`adapted_channel_fraction`); within a layer the adapted
    channels are those whose batch statistics lie closest to the source's
    (smallest :func:`wasserstein2`), the others keep the source
    statistics. Training-free: it needs no calibration.

    Written from the paper and the description of its public code
    (viannapedro/hybrid-test-time-adaptation, which has no licence; no
    code is taken from it). As the rest of s4t_mm's blending policies it
    measures the batch layer after layer, each layer's input normalised
    by the choices before it, and normalises with the unbiased batch
    variance; the per-channel weight is 1 (batch) or 0 (source), and the
    layer's reported weight is its adapted share.

    Args:
        layers: only these BatchNorm layers adapt (a regular expression,
            see :class:`BlendedStatsPolicy`); None: all. The fraction
            counts every BatchNorm layer of the model.
        live_steps: the gradient steps blend the source statistics with
            their own batch's (see :class:`BlendedStatsPolicy`, ours).
    """

    def bind(self, model) -> None:
        super().bind(model)
        self._index: Dict[str, int] = {
            name: i for i, (name, _) in enumerate(self._layers)}

    def decide(self, name, layer, mean, var, num_images=None
               ) -> LayerDecision:
        fraction = adapted_channel_fraction(self._index[name],
                                            len(self._layers))
        num_adapted = int(fraction * mean.numel())
        source_mean, source_var = self._source[name]
        distance = wasserstein2(source_mean, source_var, mean, var)
        weight = torch.zeros_like(mean)
        closest = torch.argsort(distance, stable=True)[:num_adapted]
        weight[closest] = 1.0
        return LayerDecision(weight)
