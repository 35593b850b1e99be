"""Ours: re-estimate the statistics of a batch where the shift-response
rule, fitted on the labelled source under simulated shifts, expects it to
help."""
from typing import Dict, Optional

import torch

from s4t_mm.registry import NORM_POLICIES
from .base_norm_policy import NormPolicyReport
from .blended_stats_policy import BlendedStatsPolicy, LayerDecision
from .gated_norm_policy import CALIBRATION_KEY, layer_spreads
from .norm_statistics import measure_batch, shift_score
from .shift_response import (layer_groups, response_probability,
                             shift_profile)

#: Where the fitted rule sits inside ``checkpoint['norm_calibration']``.
SHIFT_RESPONSE_KEY = 'shift_response'


@NORM_POLICIES.register_module(name='shift_response')
class CalibratedNormPolicy(BlendedStatsPolicy):
    """Ours. The distance-driven policies (the gated one, Schneider et
    al.'s prior, MECTA, AdaMixBN) adapt more the further a batch's
    statistics moved; but a change of the scene (camera, room, layout)
    moves them too, and re-estimating then removes the content the heads
    read. This policy asks instead *what re-estimation did* to the
    supervised loss when the labelled source images were shifted in ways
    that resemble the batch's shift:

    1. a pass with the source statistics in every layer measures the
       batch's shift profile (per layer group, how far the means and the
       log variances moved, in source spreads,
       :func:`~.shift_response.shift_profile`);
    2. the rule stored in the checkpoint
       (``checkpoint['norm_calibration']['shift_response']``, fitted by
       :func:`~s4t_mm.engine.hooks.norm_calibration_hook.calibrate_model`
       on source training batches under simulated shifts, with their
       labels) maps how that shift changes with depth, and how large it
       is, to the probability ``p`` that re-estimating the statistics
       lowers the loss (:mod:`.shift_response`);
    3. every BatchNorm layer takes the batch's statistics where
       ``p > 0.5`` (``hard``, the choice of the validation domains) and
       keeps the source's elsewhere, or blends by ``a = p``; a measuring
       pass writes them layer after layer as :class:`BlendedStatsPolicy`
       does (none is needed where ``a = 0``).

    The batch's ``a`` is therefore one decision per batch, shared by the
    layer groups (a per-group rule on each group's own shift was tried and
    lost on the validation domains, docs/benchmarks.md). :meth:`report`
    gives per layer ``a`` and, as score, the layer's shift ``z`` in the
    source pass (:func:`~.norm_statistics.shift_score`).

    Args:
        hard: every layer takes the batch's statistics or keeps the
            source's (``p > 0.5``); False: blend by ``p``.
        calibration: the calibration (a dict as stored in a checkpoint,
            holding the spread and the rule); usually None, and the
            test-time hook hands over the loaded checkpoint's.
        layers: only these BatchNorm layers adapt (a regular expression,
            see :class:`BlendedStatsPolicy`); None: all.
        live_steps: the gradient steps blend the source statistics with
            their own batch's (see :class:`BlendedStatsPolicy`, ours).
    """

    def __init__(self, hard: bool = True,
                 calibration: Optional[dict] = None,
                 layers: Optional[str] = None, live_steps: bool = False):
        super().__init__(layers, live_steps)
        self.hard = hard
        self.calibration = calibration
        self._weight = torch.zeros(())
        self._scores: Dict[str, torch.Tensor] = {}

    def after_load_checkpoint(self, checkpoint: dict) -> None:
        """Take the calibration of the loaded source checkpoint."""
        self.calibration = checkpoint.get(CALIBRATION_KEY)
        self._check_calibration()

    def _check_calibration(self) -> None:
        if self.calibration is None or \
                SHIFT_RESPONSE_KEY not in self.calibration:
            raise KeyError(
                f"norm_policy='shift_response' needs the shift-response "
                f"rule in checkpoint[{CALIBRATION_KEY!r}]"
                f'[{SHIFT_RESPONSE_KEY!r}]; write a calibrated copy with '
                'python tools/analysis_tools/calibrate_norm_stats.py '
                'CONFIG CHECKPOINT --out CALIBRATED')

    def bind(self, model) -> None:
        super().bind(model)
        self._check_calibration()
        rule = self.calibration[SHIFT_RESPONSE_KEY]
        names = [n for n, _ in self._layers]
        self._groups = layer_groups(names, rule['group_depth'])
        if list(self._groups) != list(rule['groups']):
            raise ValueError(
                f'the shift-response rule was fitted on the layer groups '
                f'{rule["groups"]}, this model has {list(self._groups)}; '
                'calibrate this model\'s checkpoint')
        self._spreads = layer_spreads(self.calibration, self._layers)
        self._eps = {name: layer.eps for name, layer in self._layers}

    def batch_weight(self, model, inputs: torch.Tensor) -> torch.Tensor:
        """``a`` (0-dim) for the batch ``inputs``: the source pass and the
        rule; also keeps each layer's ``z`` there to report."""
        for name, layer in self._layers:
            layer.running_mean.copy_(self._source[name][0])
            layer.running_var.copy_(self._source[name][1])
        stats = measure_batch(model, inputs, self._layers)
        scale = (self.calibration['batch_size'] / inputs.shape[0]) ** 0.5
        profile = shift_profile(self._spreads, stats, self._eps,
                                self._groups, scale)
        probability = response_probability(
            self.calibration[SHIFT_RESPONSE_KEY], profile)
        self._scores = {
            name: shift_score(self._spreads[name], *stats[name],
                              self._eps[name], scale)
            for name, _ in self._layers}
        return (probability > 0.5).float() if self.hard else probability

    def before_steps(self, model, inputs: torch.Tensor) -> None:
        self._weight = self.batch_weight(model, inputs)
        if float(self._weight) > 0:
            super().before_steps(model, inputs)
            return
        # the source pass left the source statistics in every layer: no
        # measuring pass to blend with weight 0
        self._live_weights = dict.fromkeys(self._scores, 0.0)
        self._report = NormPolicyReport(
            weights=dict.fromkeys(self._scores, 0.0),
            scores=dict(zip(self._scores, torch.stack(
                list(self._scores.values())).tolist())))

    def decide(self, name, layer, mean, var, num_images=None
               ) -> LayerDecision:
        """The weight the source pass chose for the batch (0 before any
        batch), with the layer's ``z`` there."""
        return LayerDecision(self._weight.to(mean.device),
                             self._scores.get(name))
