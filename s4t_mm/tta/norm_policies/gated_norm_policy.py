"""Ours: adapt a layer's statistics only where the batch lies outside the
source's own batch-to-batch spread."""
from typing import Dict, Optional

from s4t_mm.registry import NORM_POLICIES
from .blended_stats_policy import BlendedStatsPolicy, LayerDecision
from .norm_statistics import shift_score

#: The checkpoint key a calibration is stored under
#: (:func:`s4t_mm.apis.norm_calibration.calibrate_checkpoint`).
CALIBRATION_KEY = 'norm_calibration'


def layer_spreads(calibration: dict, layers) -> Dict[str, dict]:
    """The calibration's spread of every one of ``layers`` ((name, layer)
    pairs), on the layers' device; an error names the layers it lacks."""
    missing = [n for n, _ in layers if n not in calibration['layers']]
    if missing:
        raise ValueError(f'the calibration does not cover the BatchNorm '
                         f'layers {missing[:5]}; calibrate this model\'s '
                         'checkpoint')
    return {name: {k: v.to(layer.running_mean.device)
                   for k, v in calibration['layers'][name].items()}
            for name, layer in layers}


@NORM_POLICIES.register_module(name='gated')
class GatedNormPolicy(BlendedStatsPolicy):
    """Ours (not in S4T or any baseline's paper). Each BatchNorm layer
    tests the adapted batch against the source's own batch-to-batch spread
    of its statistics, measured on source batches of the same size when the
    source model was trained or calibrated and stored in its checkpoint
    (``checkpoint['norm_calibration']``,
    :func:`~s4t_mm.apis.norm_calibration.calibrate_checkpoint`):

    - ``z`` = the root mean square, over channels, of the batch mean's and
      log variance's distances from the source's, in units of that spread
      (about 1 for a batch drawn from the source distribution);
    - the layer normalises with ``(1 - a) * source + a * batch``,
      ``a = max(0, 1 - (threshold / z) ** 2)``: the positive-part
      James-Stein shrinkage toward the source, so a batch within
      ``threshold`` spreads keeps the source statistics, and one far
      outside takes its own.

    Why it tells the two kinds of shift apart (docs/benchmarks.md, the
    per-layer diagnosis): a change of appearance (weather, lighting,
    sensor, blur) moves a layer's statistics by 4-8 source spreads and
    more, a change of the scene itself (camera, layout) by about 2.5, and
    a source batch by about 1; re-estimating under the second removes the
    content the heads need. ``threshold`` was chosen on the validation
    domains only.

    A method's gradient steps can be limited to batches the layers find
    shifted by the adapter's ``min_target_weight`` (ours too, see
    :class:`~s4t_mm.tta.adapters.BaseAdapter`).

    Args:
        threshold: the shift, in source spreads, below which a layer keeps
            the source statistics.
        calibration: the calibration itself (a dict as stored in a
            checkpoint); usually None, and the test-time hook hands over
            the loaded checkpoint's (:meth:`after_load_checkpoint`).
        layers: only these BatchNorm layers adapt (a regular expression,
            see :class:`BlendedStatsPolicy`); None: all.
        live_steps: the gradient steps blend the source statistics with
            their own batch's (see :class:`BlendedStatsPolicy`, ours).
    """

    def __init__(self, threshold: float = 3.0,
                 calibration: Optional[dict] = None,
                 layers: Optional[str] = None,
                 live_steps: bool = False):
        super().__init__(layers, live_steps)
        if not threshold > 0:
            raise ValueError(f'threshold must be > 0, got {threshold}')
        self.threshold = float(threshold)
        self.calibration = calibration

    def after_load_checkpoint(self, checkpoint: dict) -> None:
        """Take the calibration of the loaded source checkpoint."""
        if CALIBRATION_KEY not in checkpoint:
            raise KeyError(
                f'the checkpoint has no {CALIBRATION_KEY!r}: the gated '
                'normalisation policy needs the source\'s batch-to-batch '
                'spread; write a calibrated copy with python '
                'tools/analysis_tools/calibrate_norm_stats.py CONFIG '
                'CHECKPOINT --out CALIBRATED')
        self.calibration = checkpoint[CALIBRATION_KEY]

    def bind(self, model) -> None:
        super().bind(model)
        if self.calibration is None:
            raise ValueError(
                "norm_policy='gated' has no calibration: load a checkpoint "
                f"that holds {CALIBRATION_KEY!r} (python tools/"
                'analysis_tools/calibrate_norm_stats.py CONFIG CHECKPOINT '
                '--out CALIBRATED writes one) or pass calibration=...')
        self._spreads = layer_spreads(self.calibration, self._layers)

    def decide(self, name, layer, mean, var, num_images=None
               ) -> LayerDecision:
        """``z`` of the layer (:func:`~.norm_statistics.shift_score`, the
        spread rescaled from the calibration's batch size to
        ``num_images``) and ``a = max(0, 1 - (threshold / z) ** 2)``."""
        size = self.calibration['batch_size']
        scale = 1.0 if num_images is None else (size / num_images) ** 0.5
        z = shift_score(self._spreads[name], mean, var, layer.eps, scale)
        weight = (1 - (self.threshold / z.clamp_min(1e-12)) ** 2
                  ).clamp_min(0)
        return LayerDecision(weight, z)
