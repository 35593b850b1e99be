"""NormCalibrationHook: the spread in every checkpoint, the shift-response
rule in the one of the end of training (also after an early stop)."""
from types import SimpleNamespace

import pytest
import torch
from mmengine.runner.checkpoint import save_checkpoint

from s4t_mm.fileio import load_checkpoint_file
from s4t_mm.engine.hooks import NormCalibrationHook
from s4t_mm.registry import MODELS
from s4t_mm.tta.norm_policies.calibrated_norm_policy import \
    SHIFT_RESPONSE_KEY
from s4t_mm.tta.norm_policies.gated_norm_policy import CALIBRATION_KEY
from ..test_apis.test_norm_calibration import calibration_cfg
from ..test_tta.tiny_runner import tiny_tta_cfg


def runner_at(tmp_path, iteration, max_iters=4):
    """What the hook reads of a runner that is saving after
    ``iteration + 1`` of ``max_iters`` iterations."""
    cfg = calibration_cfg(tiny_tta_cfg(tmp_path / 'work', tmp_path / 'cache'))
    torch.manual_seed(42)  # the weights of save_tiny_checkpoint
    return SimpleNamespace(model=MODELS.build(cfg.model), cfg=cfg,
                           iter=iteration, max_iters=max_iters,
                           work_dir=str(tmp_path / 'work'))


def test_rule_only_in_the_last_checkpoint(tmp_path):
    hook = NormCalibrationHook(num_batches=2)
    middle, last = {}, {}
    hook.before_save_checkpoint(runner_at(tmp_path, 1), middle)
    assert SHIFT_RESPONSE_KEY not in middle[CALIBRATION_KEY]
    assert middle[CALIBRATION_KEY]['num_batches'] == 2
    hook.before_save_checkpoint(runner_at(tmp_path, 3), last)
    assert SHIFT_RESPONSE_KEY in last[CALIBRATION_KEY]
    every = {}
    NormCalibrationHook(num_batches=2, shift_response='every') \
        .before_save_checkpoint(runner_at(tmp_path, 1), every)
    torch.testing.assert_close(
        every[CALIBRATION_KEY][SHIFT_RESPONSE_KEY]['weight'],
        last[CALIBRATION_KEY][SHIFT_RESPONSE_KEY]['weight'])
    with pytest.raises(ValueError, match="valid: last, every, never"):
        NormCalibrationHook(shift_response='always')


def test_early_stop_writes_the_rule_into_the_last_checkpoint(tmp_path):
    hook = NormCalibrationHook(num_batches=2)
    runner = runner_at(tmp_path, 1)  # stopped after 2 of 4 iterations
    checkpoint = dict(state_dict=runner.model.state_dict(), meta={})
    hook.before_save_checkpoint(runner, checkpoint)
    (tmp_path / 'work').mkdir(exist_ok=True)
    path = str(tmp_path / 'work' / 'iter_2.pth')
    save_checkpoint(checkpoint, path)
    (tmp_path / 'work' / 'last_checkpoint').write_text(path)
    hook.after_train(runner)
    saved = load_checkpoint_file(path)[CALIBRATION_KEY]
    assert SHIFT_RESPONSE_KEY in saved and 'layers' in saved
    # done once: a second call leaves the file alone
    before = (tmp_path / 'work' / 'iter_2.pth').stat().st_mtime_ns
    hook.after_train(runner)
    assert (tmp_path / 'work' / 'iter_2.pth').stat().st_mtime_ns == before
