"""Normalise with a blend of the source statistics and the batch's own."""
import re
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn as nn
from torch.nn.modules.batchnorm import _BatchNorm

from .base_norm_policy import BaseNormPolicy
from .norm_statistics import batch_norm_layers, observe_batch_norms


class BlendedStatsPolicy(BaseNormPolicy):
    """Base of the policies that normalise every BatchNorm layer with
    ``(1 - a) * source + a * batch`` statistics, ``a`` per layer in [0, 1]
    (:meth:`target_weight`).

    :meth:`before_steps` measures the adapted batch in one forward pass,
    layer after layer: each layer's input statistics are taken with the
    layers before it already normalising with their blend (Schneider et
    al.'s sequential estimate), and the blend is written into the layer's
    running buffers. The layers then stay in evaluation mode, so the
    gradient steps of a method and the predictions that follow normalise
    with that blend, never with raw batch statistics. Each adapted batch is
    blended with the source afresh (target estimates do not accumulate
    along a stream), so a long or continual stream cannot drift away from
    the source statistics; :attr:`last_weights` keeps the last batch's
    ``a`` per layer.

    Args:
        layers: a regular expression; only the BatchNorm layers whose names
            it matches (``re.match``, e.g. ``'backbone\\.(stem|layer1)'``)
            adapt, the others keep the source statistics. None: all.
    """

    uses_batch_statistics = False
    adapts_statistics = True

    def __init__(self, layers: Optional[str] = None):
        self.layers = layers
        self._pattern = None if layers is None else re.compile(layers)
        self._layers: List[Tuple[str, _BatchNorm]] = []
        self._source: Dict[str, Tuple[torch.Tensor, torch.Tensor]] = {}
        #: ``{layer name: a}`` of the last batch (floats, read once per
        #: batch after the measuring pass).
        self.last_weights: Dict[str, float] = {}

    def bind(self, model: nn.Module) -> None:
        self._layers = batch_norm_layers(model)
        if not self._layers:
            raise ValueError(f'{type(self).__name__} found no BatchNorm '
                             'layer with running statistics in the model')
        if self._pattern is not None and not any(
                self._pattern.match(n) for n, _ in self._layers):
            raise ValueError(f'layers={self.layers!r} matches no BatchNorm '
                             f'layer; the first ones are '
                             f'{[n for n, _ in self._layers][:4]}')
        self._source = {n: (m.running_mean.detach().clone(),
                            m.running_var.detach().clone())
                        for n, m in self._layers}
        self.last_weights = {}

    def set_mode(self, model: nn.Module) -> None:
        model.train()
        for _, layer in self._layers:
            layer.eval()

    def target_weight(self, name: str, layer: _BatchNorm, mean: torch.Tensor,
                      var: torch.Tensor) -> torch.Tensor:
        """``a`` of layer ``name`` for a batch whose input statistics there
        are ``mean`` and ``var`` (per channel): 0-dim, in [0, 1]."""
        raise NotImplementedError

    def before_steps(self, model: nn.Module, inputs: torch.Tensor) -> None:
        weights = {}

        def blend(name, layer, mean, var):
            a = self.target_weight(name, layer, mean, var)
            if self._pattern is not None and not self._pattern.match(name):
                a = torch.zeros_like(a)
            source_mean, source_var = self._source[name]
            layer.running_mean.copy_(torch.lerp(source_mean, mean, a))
            layer.running_var.copy_(torch.lerp(source_var, var, a))
            weights[name] = a

        training = [(layer, layer.training) for _, layer in self._layers]
        for layer, _ in training:
            layer.eval()
        try:
            with torch.no_grad(), observe_batch_norms(self._layers, blend):
                model(inputs, mode='tensor')
        finally:
            for layer, was_training in training:
                layer.train(was_training)
        if weights:
            values = torch.stack([torch.as_tensor(w, dtype=torch.float32)
                                  for w in weights.values()]).tolist()
            self.last_weights = dict(zip(weights, values))

    def reset(self) -> None:
        self.last_weights = {}
