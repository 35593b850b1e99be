"""Normalise with a blend of the source statistics and the batch's own."""
import re
from typing import Dict, List, NamedTuple, Optional, Tuple

import torch
import torch.nn as nn
from torch.nn.modules.batchnorm import _BatchNorm

from .base_norm_policy import BaseNormPolicy, NormPolicyReport
from .norm_statistics import (batch_norm_layers, blend_statistics,
                              blended_batch_norm, observe_batch_norms)

Statistics = Tuple[torch.Tensor, torch.Tensor]


class LayerDecision(NamedTuple):
    """What a blending policy decides for one layer on one batch.

    ``weight``: ``a``, the weight of the batch's statistics, in [0, 1]:
    0-dim (the whole layer) or one per channel. ``score``: the shift score
    (0-dim) ``a`` was decided from, or None for a policy without one."""

    weight: torch.Tensor
    score: Optional[torch.Tensor] = None


class BlendedStatsPolicy(BaseNormPolicy):
    """Base of the policies that normalise every BatchNorm layer with
    ``(1 - a) * source + a * batch`` statistics, ``a`` per layer (or per
    channel) in [0, 1].

    A policy is a function of the statistics: :meth:`decide` maps a
    layer's batch statistics (and what the policy was calibrated with) to
    ``a`` and the score it came from, without side effects, and
    :meth:`normalisation_statistics` maps the layer's (source, batch)
    statistics to those it normalises with. Subclasses write
    :meth:`decide`; what was decided on the last batch is :meth:`report`.

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
        self._source: Dict[str, Statistics] = {}
        self._report = NormPolicyReport()

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
        self._report = NormPolicyReport()

    @property
    def last_weights(self) -> Dict[str, float]:
        """``{layer name: a}`` of the last batch (the mean over channels
        where ``a`` is per channel)."""
        return self._report.weights

    @property
    def last_scores(self) -> Dict[str, float]:
        """``{layer name: score}`` of the last batch, before its steps
        (empty for a policy without scores)."""
        return self._report.scores

    def report(self) -> NormPolicyReport:
        return self._report

    def set_mode(self, model: nn.Module) -> None:
        model.train()
        for _, layer in self._layers:
            layer.eval()

    def decide(self, name: str, layer: _BatchNorm, mean: torch.Tensor,
               var: torch.Tensor, num_images: Optional[int] = None
               ) -> LayerDecision:
        """``a`` of layer ``name`` (and its score) for a batch of
        ``num_images`` images whose input statistics there are ``mean``
        and ``var`` (per channel)."""
        raise NotImplementedError

    def target_weight(self, name: str, layer: _BatchNorm, mean: torch.Tensor,
                      var: torch.Tensor, num_images: Optional[int] = None
                      ) -> torch.Tensor:
        """``a`` of :meth:`decide` alone: 0-dim or per channel, in
        [0, 1]."""
        return self.decide(name, layer, mean, var, num_images).weight

    def normalisation_statistics(self, name: str, layer: _BatchNorm,
                                 batch: Statistics,
                                 num_images: Optional[int] = None
                                 ) -> Tuple[Statistics, LayerDecision]:
        """The (mean, var) layer ``name`` normalises with, given the
        batch's own there, and the decision they come from: the blend of
        its source statistics and ``batch`` by :meth:`decide`'s ``a`` (0
        in layers outside ``layers``)."""
        decision = self.decide(name, layer, *batch, num_images)
        if self._pattern is not None and not self._pattern.match(name):
            decision = decision._replace(
                weight=torch.zeros_like(decision.weight))
        return blend_statistics(self._source[name], batch,
                                decision.weight), decision

    def before_steps(self, model: nn.Module, inputs: torch.Tensor) -> None:
        self._measure(model, inputs)

    def begin_steps(self, model: nn.Module) -> None:
        if not self.live_steps:
            return
        for name, layer in self._layers:
            weight = self._live_weights.get(name, 0.0)
            if isinstance(weight, float) and weight == 1.0:
                self._live_handles.append(_BatchStatisticsSteps(layer))
            elif self.last_weights.get(name, 0.0) > 0:
                self._live_handles.append(
                    layer.register_forward_hook(self._live_blend(name)))

    def after_steps(self, model: nn.Module, inputs: torch.Tensor,
                    stepped: bool) -> None:
        handles, self._live_handles = self._live_handles, []
        for handle in reversed(handles):
            handle.remove()
        if handles and stepped:
            scores = self._report.scores  # the report keeps those before
            with torch.no_grad():  # the adapted model's blend, to predict
                self._measure(model, inputs)
            self._report.scores = scores

    def _live_blend(self, name: str):
        """A forward hook that renormalises the layer's input with the blend
        of the source statistics and its own (differentiable) ones
        (:func:`~.norm_statistics.blended_batch_norm`)."""
        weight = self._live_weights[name]
        source = self._source[name]

        def hook(layer, args, output):
            return blended_batch_norm(args[0], layer, source, weight)
        return hook

    def _measure(self, model: nn.Module, inputs: torch.Tensor) -> None:
        """The measuring pass: the blend of every layer into its running
        buffers, the decisions into :meth:`report`."""
        decisions = {}
        num_images = int(inputs.shape[0])

        def blend(name, layer, mean, var):
            (blend_mean, blend_var), decisions[name] = \
                self.normalisation_statistics(name, layer, (mean, var),
                                              num_images)
            layer.running_mean.copy_(blend_mean)
            layer.running_var.copy_(blend_var)

        training = [(layer, layer.training) for _, layer in self._layers]
        for layer, _ in training:
            layer.eval()
        try:
            with torch.no_grad(), observe_batch_norms(self._layers, blend):
                model(inputs, mode='tensor')
        finally:
            for layer, was_training in training:
                layer.train(was_training)
        if decisions:
            self._report = self._decisions_report(decisions)

    def _decisions_report(self, decisions: Dict[str, LayerDecision]
                          ) -> NormPolicyReport:
        """Floats of one batch's decisions (read once, after the pass); the
        weight a live step blends with is kept as decided (a float for a
        layer, the tensor for channels)."""
        weights = torch.stack([d.weight.float().mean()
                               for d in decisions.values()]).tolist()
        scored = {n: d.score for n, d in decisions.items()
                  if d.score is not None}
        scores = torch.stack(list(scored.values())).tolist() \
            if scored else []
        self._live_weights = {
            n: d.weight if d.weight.dim() else w
            for (n, d), w in zip(decisions.items(), weights)}
        return NormPolicyReport(weights=dict(zip(decisions, weights)),
                                scores=dict(zip(scored, scores)))

    def reset(self) -> None:
        self._report = NormPolicyReport()


class _BatchStatisticsSteps:
    """A layer whose live blend is all its batch's (``a = 1``) steps as
    BatchNorm in training mode does, natively: the same normalisation as
    :func:`~.norm_statistics.blended_batch_norm` at weight 1, bit for bit
    the method's own steps with batch statistics, and without a second
    normalisation of every output in a hook. Its running buffers stay as
    measured (momentum 0, the step counter restored by :meth:`remove`)."""

    def __init__(self, layer: _BatchNorm):
        self.layer = layer
        self.momentum = layer.momentum
        self.was_training = layer.training
        self.num_batches_tracked = None \
            if layer.num_batches_tracked is None \
            else layer.num_batches_tracked.clone()
        layer.momentum = 0.0
        layer.train()

    def remove(self) -> None:
        layer = self.layer
        layer.train(self.was_training)
        layer.momentum = self.momentum
        if self.num_batches_tracked is not None:
            layer.num_batches_tracked.copy_(self.num_batches_tracked)
