"""Calibrate an existing source checkpoint: the source's own batch-to-batch
spread of its normalisation statistics, which
:class:`~s4t_mm.tta.norm_policies.GatedNormPolicy` tests target batches
against, and the shift-response rule that
:class:`~s4t_mm.tta.norm_policies.CalibratedNormPolicy` reads, stored in
the checkpoint (new trainings store them themselves through
:class:`~s4t_mm.engine.hooks.NormCalibrationHook`)."""
import os.path as osp
from typing import Optional, Union

from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner.checkpoint import save_checkpoint

from s4t_mm.fileio import load_model_checkpoint
from s4t_mm.engine.hooks.norm_calibration_hook import calibrate_model
from s4t_mm.registry import MODELS
from s4t_mm.tta.norm_policies.gated_norm_policy import CALIBRATION_KEY


def calibrate_checkpoint(config: Union[str, Config], checkpoint: str,
                         out: str,
                         num_batches: int = 16,
                         batch_size: Optional[int] = None,
                         shift_response: bool = True) -> dict:
    """Write ``out``: ``checkpoint`` with its calibration under
    :data:`CALIBRATION_KEY` (the weights and everything else unchanged):
    the spread and, with ``shift_response``, the shift-response rule
    (:func:`~s4t_mm.engine.hooks.norm_calibration_hook.calibrate_model`).
    ``out`` is written atomically and may not be ``checkpoint`` itself (a
    result cache keyed by the source checkpoint stays valid)."""
    if osp.abspath(out) == osp.abspath(checkpoint):
        raise ValueError(f'the calibrated checkpoint must be a new file, '
                         f'not the source checkpoint {checkpoint!r}')
    cfg = Config.fromfile(config) if isinstance(config, str) else config
    init_default_scope(cfg.get('default_scope', 's4t_mm'))
    model = MODELS.build(cfg.model)
    content = load_model_checkpoint(model, checkpoint)
    content[CALIBRATION_KEY] = calibrate_model(model, cfg, num_batches,
                                               batch_size, shift_response)
    save_checkpoint(content, out,
                    backend_args=dict(backend='atomic_local'))
    return content[CALIBRATION_KEY]
