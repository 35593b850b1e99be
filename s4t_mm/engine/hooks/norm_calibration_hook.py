"""Store the source's batch-to-batch spread of its normalisation statistics
in every checkpoint a training saves."""
import copy
import random
from typing import Iterator, Optional

import numpy as np
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.runner import Runner

from s4t_mm.registry import HOOKS
from s4t_mm.structures import without_ground_truth
from s4t_mm.tta.norm_policies.gated_norm_policy import CALIBRATION_KEY
from s4t_mm.tta.norm_policies.norm_statistics import calibrate_spread
from s4t_mm.utils import unwrap_model


def calibration_loader_cfg(cfg: Config, batch_size: Optional[int] = None
                           ) -> dict:
    """The source images the spread is measured on: the training set with
    the test pipeline (a target batch is compared with the statistics of
    un-augmented images), in order, in batches of the test loader's size
    (the adaptation batch size)."""
    loader = copy.deepcopy(cfg.train_dataloader)
    loader.dataset.pipeline = copy.deepcopy(
        cfg.test_dataloader.dataset.pipeline)
    # a fixed seed: building the sampler draws no seed from the run's RNG
    loader.sampler = dict(type='DefaultSampler', shuffle=False, seed=0)
    loader.batch_size = batch_size or cfg.test_dataloader.batch_size
    loader.num_workers = 0
    loader.pop('persistent_workers', None)
    return loader


def calibration_batches(model, loader, num_batches: int
                        ) -> Iterator[torch.Tensor]:
    """Preprocessed source images (ground truth stripped), whole batches
    only."""
    for done, batch in enumerate(loader):
        if done == num_batches:
            return
        batch = dict(batch, data_samples=[
            without_ground_truth(s) for s in batch['data_samples']])
        inputs = model.data_preprocessor(batch, training=False)['inputs']
        if inputs.shape[0] != loader.batch_size:
            return
        yield inputs


def calibrate_model(model, cfg: Config, num_batches: int = 16,
                    batch_size: Optional[int] = None) -> dict:
    """The spread of ``model`` on ``num_batches`` source batches
    (:func:`~s4t_mm.tta.norm_policies.norm_statistics.calibrate_spread`).
    The random state of torch, numpy and ``random`` is left as it was, so a
    training that calibrates at its checkpoints trains the same weights."""
    states = random.getstate(), np.random.get_state()
    with torch.random.fork_rng(devices=[]):
        try:
            loader = Runner.build_dataloader(
                calibration_loader_cfg(cfg, batch_size))
            calibration = calibrate_spread(
                model, calibration_batches(model, loader, num_batches))
        finally:
            random.setstate(states[0])
            np.random.set_state(states[1])
    if calibration['num_batches'] < num_batches:
        print_log(f'calibrated on {calibration["num_batches"]} source '
                  f'batches (the training set has no more), not '
                  f'{num_batches}', logger='current', level=30)
    return calibration


@HOOKS.register_module()
class NormCalibrationHook(Hook):
    """Add ``checkpoint['norm_calibration']`` to every saved checkpoint: the
    source's own batch-to-batch spread of each BatchNorm layer's
    statistics, measured at that moment on ``num_batches`` batches of the
    training images (test pipeline). The gated normalisation policy
    (``norm_policy=dict(type='gated')``) tests target batches against it.

    Training is unchanged (no gradient, evaluation mode, the random state
    restored); it costs ``num_batches`` forward passes per checkpoint.

    Args:
        num_batches: source batches the spread is measured on.
        batch_size: their size; default the test loader's (the adaptation
            batch size the spread must match).
    """

    priority = 'LOW'

    def __init__(self, num_batches: int = 16,
                 batch_size: Optional[int] = None):
        if num_batches < 2:
            raise ValueError(f'num_batches must be >= 2 (a spread needs two '
                             f'batches), got {num_batches}')
        self.num_batches = num_batches
        self.batch_size = batch_size

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint[CALIBRATION_KEY] = calibrate_model(
            unwrap_model(runner.model), runner.cfg, self.num_batches,
            self.batch_size)
