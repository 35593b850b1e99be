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

    With ``live_steps`` (ours) the gradient steps normalise instead with
    ``(1 - a) * source + a * batch`` where ``batch`` is the statistics of
    each step's own forward pass, gradients flowing through it as through
    BatchNorm in training mode: a layer with ``a = 1`` then steps exactly
    as the method does with batch statistics, and keeps the invariance to
    the scale of its input that stabilises entropy minimisation (TENT's
    steps with frozen statistics diverge, docs/benchmarks.md). After the
    steps one more measuring pass writes the blend of the adapted model's
    statistics for the predictions.

    Args:
        layers: a regular expression; only the BatchNorm layers whose names
            it matches (``re.match``, e.g. ``'backbone\\.(stem|layer1)'``)
            adapt, the others keep the source statistics. None: all.
        live_steps: blend with each step's own batch statistics (above);
            False: the steps normalise with the measured blend, frozen.
    """

    uses_batch_statistics = False
    adapts_statistics = True

    def __init__(self, layers: Optional[str] = None,
                 live_steps: bool = False):
        self.layers = layers
        self.live_steps = live_steps
        self._live_handles = []
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
        self._measure(model, inputs)
        if self.live_steps and self.allows_steps:
            self._live_handles = [
                layer.register_forward_hook(self._live_blend(name))
                for name, layer in self._layers
                if self.last_weights.get(name, 0.0) > 0]

    def after_steps(self, model: nn.Module, inputs: torch.Tensor,
                    stepped: bool) -> None:
        handles, self._live_handles = self._live_handles, []
        for handle in handles:
            handle.remove()
        if handles and stepped:
            with torch.no_grad():  # the adapted model's blend, to predict
                self._measure(model, inputs)

    def _live_blend(self, name: str):
        """A forward hook that renormalises the layer's input with the blend
        of the source statistics and its own (differentiable) ones."""
        a = self.last_weights[name]
        source_mean, source_var = self._source[name]

        def hook(layer, args, output):
            x = args[0]
            dims = [0] + list(range(2, x.dim()))
            mean = torch.lerp(source_mean.to(x.dtype), x.mean(dims), a)
            var = torch.lerp(source_var.to(x.dtype),
                             x.var(dims, unbiased=False), a)
            shape = (1, -1) + (1, ) * (x.dim() - 2)
            y = (x - mean.view(shape)) * torch.rsqrt(var.view(shape) +
                                                     layer.eps)
            if layer.affine:
                y = y * layer.weight.view(shape) + layer.bias.view(shape)
            return y
        return hook

    def _measure(self, model: nn.Module, inputs: torch.Tensor) -> None:
        """The measuring pass: the blend of every layer into its running
        buffers, ``a`` into :attr:`last_weights`."""
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
