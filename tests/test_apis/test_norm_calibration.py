"""Calibrating a source checkpoint and the gated policy reading it through
the runner."""
import pytest
import torch

from s4t_mm.apis.adaptation import run_domains
from s4t_mm.apis.norm_calibration import CALIBRATION_KEY, calibrate_checkpoint
from s4t_mm.engine.hooks.norm_calibration_hook import (SIMULATED_SHIFTS,
                                                       calibrate_model)
from s4t_mm.fileio import load_checkpoint_file, load_model_weights
from s4t_mm.registry import MODELS
from s4t_mm.tta.norm_policies.calibrated_norm_policy import \
    SHIFT_RESPONSE_KEY
from ..test_tta.tiny_runner import TARGETS, save_tiny_checkpoint, tiny_tta_cfg


def gated_cfg(tmp_path):
    return tiny_tta_cfg(tmp_path / 'work', tmp_path / 'cache',
                        adapter=dict(type='NormStatsAdapter',
                                     norm_policy=dict(type='gated')),
                        steps=1)


def calibration_cfg(cfg):
    """``cfg`` with the source's training images to calibrate on."""
    cfg = cfg.copy()
    train = dict(cfg.test_dataloader.to_dict())
    train['dataset'] = dict(train['dataset'], style='source', split='train')
    cfg.train_dataloader = train
    return cfg


def test_calibrated_checkpoint_reaches_the_gated_policy(tmp_path):
    cfg = gated_cfg(tmp_path)
    source = save_tiny_checkpoint(tmp_path / 'source.pth')
    out = str(tmp_path / 'calibrated.pth')
    calibration = calibrate_checkpoint(calibration_cfg(cfg), source, out,
                                       num_batches=2, shift_response=False)
    assert SHIFT_RESPONSE_KEY not in calibration
    assert calibration['batch_size'] == 4
    assert calibration['num_batches'] == 2
    saved = load_checkpoint_file(out)
    original = load_checkpoint_file(source)
    assert set(saved) == set(original) | {CALIBRATION_KEY}
    for key, value in original['state_dict'].items():
        assert torch.equal(saved['state_dict'][key], value)
    layers = saved[CALIBRATION_KEY]['layers']
    assert layers and all(v['mean_spread'].min() >= 0
                          for v in layers.values())

    result = run_domains(cfg, out, TARGETS[:1], adapt=True, seed=0,
                         work_dir=str(tmp_path / 'work'), name='gated')
    weights = result['warm']['norm_weights']
    assert set(weights) == set(layers)
    assert all(0.0 <= a <= 1.0 for a in weights.values())
    scores = result['warm']['norm_scores']  # z before the steps, per layer
    assert set(scores) == set(layers) and min(scores.values()) > 0
    for name, z in scores.items():  # the policy's rule, layer by layer
        assert weights[name] == pytest.approx(max(0.0, 1 - (3.0 / z) ** 2),
                                              abs=1e-6)

    with pytest.raises(ValueError, match='new file'):
        calibrate_checkpoint(calibration_cfg(cfg), source, source)
    # the uncalibrated checkpoint: the policy says how to calibrate it
    with pytest.raises(KeyError, match='calibrate_norm_stats'):
        run_domains(cfg, source, TARGETS[:1], adapt=True, seed=0,
                    work_dir=str(tmp_path / 'work'), name='gated_missing')


def test_shift_response_reaches_its_policy(tmp_path):
    """The rule is fitted on the simulated shifts, stored beside the
    spread, leaves the random state as it was, and the shift_response
    policy reads it through the runner."""
    cfg = tiny_tta_cfg(tmp_path / 'work', tmp_path / 'cache',
                       adapter=dict(type='NormStatsAdapter', norm_policy=dict(
                           type='shift_response', hard=True)), steps=1)
    source = save_tiny_checkpoint(tmp_path / 'source.pth')
    out = str(tmp_path / 'calibrated.pth')
    calibration = calibrate_checkpoint(calibration_cfg(cfg), source, out,
                                       num_batches=2)
    rule = calibration[SHIFT_RESPONSE_KEY]
    assert rule['groups'] == ['backbone.stem', 'backbone.layer1',
                              'backbone.layer2']
    assert rule['num_shifts'] == 2 * len(SIMULATED_SHIFTS)
    assert len(rule['gains']) == rule['num_shifts']
    assert rule['weight'].shape == (2, ) and 0 < rule['helped'] < 1
    saved = load_checkpoint_file(out)[CALIBRATION_KEY][SHIFT_RESPONSE_KEY]
    assert torch.equal(saved['weight'], rule['weight'])

    result = run_domains(cfg, out, TARGETS[:1], adapt=True, seed=0,
                         work_dir=str(tmp_path / 'work'), name='response')
    weights = set(result['warm']['norm_weights'].values())
    assert weights in ({0.0}, {1.0})  # one decision for every layer

    # a training calibrating at its checkpoints trains the same weights
    model = MODELS.build(cfg.model)
    load_model_weights(model, source)
    torch.manual_seed(7)
    expected = torch.rand(3)
    torch.manual_seed(7)
    again = calibrate_model(model, calibration_cfg(cfg), num_batches=2)
    assert torch.equal(torch.rand(3), expected)
    assert torch.equal(again[SHIFT_RESPONSE_KEY]['weight'], rule['weight'])
