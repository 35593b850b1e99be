"""Store the source's batch-to-batch spread of its normalisation statistics
in every checkpoint a training saves."""
import copy
import os.path as osp
import random
from typing import Dict, Iterator, Optional, Sequence, Tuple

import numpy as np
import torch
from mmcv.transforms import Compose
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.runner import Runner
from mmengine.runner.checkpoint import save_checkpoint

from s4t_mm.fileio import load_checkpoint_file
from s4t_mm.registry import HOOKS, TRANSFORMS
from s4t_mm.structures import without_ground_truth
from s4t_mm.tta.norm_policies.calibrated_norm_policy import \
    SHIFT_RESPONSE_KEY
from s4t_mm.tta.norm_policies.gated_norm_policy import CALIBRATION_KEY
from s4t_mm.tta.norm_policies.norm_statistics import (
    batch_norm_layers, calibrate_spread, measure_batch, restore_statistics,
    write_batch_statistics)
from s4t_mm.tta.norm_policies.shift_response import (fit_shift_response,
                                                     layer_groups,
                                                     shift_profile)
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


#: The simulated shifts of the shift-response calibration
#: (:class:`~s4t_mm.datasets.transforms.SimulatedShift` kinds and values,
#: applied in order), each on its own source images: none; photometric
#: (colour, gamma, brightness, contrast, blur, sensor noise, JPEG, bright
#: blobs in front of the scene); geometric at the source's pixel scale
#: (zoom in and out, a narrower view, another camera height or tilt); and
#: a geometric shift with a photometric one.
SIMULATED_SHIFTS = (
    (),
    (('colour', 0.15), ), (('colour', 0.3), ),
    (('gamma', 0.6), ), (('gamma', 0.8), ), (('gamma', 1.3), ),
    (('gamma', 1.7), ),
    (('brightness', -0.2), ), (('brightness', -0.1), ),
    (('brightness', 0.1), ), (('brightness', 0.2), ),
    (('contrast', 0.5), ), (('contrast', 0.75), ), (('contrast', 1.3), ),
    (('blur', 0.8), ), (('blur', 1.5), ),
    (('noise', 0.03), ), (('noise', 0.08), ),
    (('jpeg', 40), ), (('jpeg', 15), ),
    (('overlay', 0.4), ), (('overlay', 0.7), ), (('overlay', 0.9), ),
    (('zoom', 1.25), ), (('zoom', 1.6), ),
    (('zoom_out', 0.6), ), (('zoom_out', 0.8), ),
    (('crop', 0.5), ), (('crop', 0.75), ),
    (('tilt', -0.5), ), (('tilt', -0.25), ), (('tilt', 0.25), ),
    (('tilt', 0.5), ),
    (('crop', 0.75), ('gamma', 0.7)), (('tilt', 0.5), ('blur', 1.2)),
    (('tilt', -0.5), ('noise', 0.05)), (('zoom_out', 0.7), ('contrast', 0.6)),
    (('zoom', 1.3), ('brightness', -0.15)), (('crop', 0.5), ('jpeg', 20)),
    (('overlay', 0.6), ('contrast', 0.7)), (('overlay', 0.5), ('tilt', 0.5)),
)


def _restoring_random_state(fn):
    """Run ``fn`` with the random state of torch, numpy and ``random``
    restored afterwards, so a training that calibrates at its checkpoints
    trains the same weights."""
    def wrapped(*args, **kwargs):
        states = random.getstate(), np.random.get_state()
        with torch.random.fork_rng(devices=[]):
            try:
                return fn(*args, **kwargs)
            finally:
                random.setstate(states[0])
                np.random.set_state(states[1])
    wrapped.__doc__, wrapped.__name__ = fn.__doc__, fn.__name__
    return wrapped


@_restoring_random_state
def calibrate_spread_of(model, cfg: Config, num_batches: int = 16,
                        batch_size: Optional[int] = None) -> dict:
    """The spread of ``model`` on ``num_batches`` source batches
    (:func:`~s4t_mm.tta.norm_policies.norm_statistics.calibrate_spread`),
    the random state left as it was."""
    loader = Runner.build_dataloader(calibration_loader_cfg(cfg, batch_size))
    calibration = calibrate_spread(
        model, calibration_batches(model, loader, num_batches))
    if calibration['num_batches'] < num_batches:
        print_log(f'calibrated on {calibration["num_batches"]} source '
                  f'batches (the training set has no more), not '
                  f'{num_batches}', logger='current', level=30)
    return calibration


def shifted_pipeline(cfg: Config, shift: Sequence[Tuple[str, float]]
                     ) -> Compose:
    """The test pipeline with ``shift``'s
    :class:`~s4t_mm.datasets.transforms.SimulatedShift` transforms just
    before the packing transform (where a corruption domain inserts its
    corruption), labels kept."""
    pipeline = list(copy.deepcopy(cfg.test_dataloader.dataset.pipeline))
    pack = next((i for i, t in enumerate(pipeline)
                 if 'Pack' in t['type']), len(pipeline))
    pipeline[pack:pack] = [dict(type='SimulatedShift', kind=kind,
                                value=value) for kind, value in shift]
    return Compose([TRANSFORMS.build(t) for t in pipeline])


def task_losses(model, data: dict) -> Dict[str, float]:
    """Each task's supervised loss of the main prediction on a labelled,
    preprocessed batch (the model's ``<task>.main`` terms, else its
    ``loss_*`` terms)."""
    losses = model(**data, mode='loss')
    main = {k: v for k, v in losses.items() if k.endswith('.main')}
    chosen = main or {k: v for k, v in losses.items()
                      if k.startswith('loss')}
    return {k: float(v.detach().float().mean()) for k, v in chosen.items()}


def relative_gain(before: Dict[str, float], after: Dict[str, float]
                  ) -> float:
    """delta_m of losses: the mean over tasks of the relative loss
    decrease, percent (each task counts alike, whatever its loss weight)."""
    return 100.0 * float(np.mean([(before[k] - after[k]) / before[k]
                                  for k in before if before[k] > 0]))


@_restoring_random_state
def calibrate_shift_response(model, cfg: Config, spread: dict,
                             shifts: Sequence = SIMULATED_SHIFTS,
                             repeats: int = 2, group_depth: int = 2) -> dict:
    """The shift-response rule of ``model``
    (:mod:`s4t_mm.tta.norm_policies.shift_response`), learned on its
    labelled source training images under ``shifts``, each ``repeats``
    times on other images. Per shift, on two batches of the spread's size:
    the shift profile of the first (the source statistics in every
    layer), then what re-estimating every layer's statistics on it
    (layer after layer, as a blending policy does) does to the supervised
    loss of the second, each task's relative change averaged over tasks.
    Costs four forward passes per shift and repeat (one calibration of
    the embedded model: docs/benchmarks.md, bench/bench_norm_policies.py).
    """
    was_training = model.training
    model.eval()
    layers = batch_norm_layers(model)
    source = {n: (m.running_mean.clone(), m.running_var.clone())
              for n, m in layers}
    eps = {n: m.eps for n, m in layers}
    groups = layer_groups([n for n, _ in layers], group_depth)
    loader = Runner.build_dataloader(calibration_loader_cfg(cfg))
    dataset, size = loader.dataset, spread['batch_size']
    profiles, gains = [], []
    try:
        for k in range(repeats * len(shifts)):
            pipeline = shifted_pipeline(cfg, shifts[k % len(shifts)])
            first = k * 2 * size
            estimate, evaluate = (model.data_preprocessor(pseudo_collate([
                pipeline(copy.deepcopy(dataset.get_data_info(
                    (first + j * size + i) % len(dataset))))
                for i in range(size)]), training=False) for j in range(2))
            estimate = estimate['inputs']
            with torch.no_grad():
                stats = measure_batch(model, estimate, layers)
                before = task_losses(model, evaluate)
                write_batch_statistics(model, estimate, layers)
                after = task_losses(model, evaluate)
            restore_statistics(layers, source)
            profiles.append(shift_profile(spread['layers'], stats, eps,
                                          groups))
            gains.append(relative_gain(before, after))
    finally:
        restore_statistics(layers, source)
        model.train(was_training)
    rule = fit_shift_response(torch.stack(profiles), torch.tensor(gains))
    rule.update(group_depth=group_depth, groups=list(groups),
                shifts=[[list(t) for t in shift] for shift in shifts],
                repeats=repeats, gains=gains)
    return rule


def calibrate_model(model, cfg: Config, num_batches: int = 16,
                    batch_size: Optional[int] = None,
                    shift_response: bool = True) -> dict:
    """The calibration the normalisation policies read from a checkpoint:
    the source's batch-to-batch spread (:func:`calibrate_spread_of`) and,
    with ``shift_response``, the shift-response rule under its key
    (:func:`calibrate_shift_response`). The random state is left as it
    was."""
    calibration = calibrate_spread_of(model, cfg, num_batches, batch_size)
    if shift_response:
        calibration[SHIFT_RESPONSE_KEY] = calibrate_shift_response(
            model, cfg, calibration)
    return calibration


@HOOKS.register_module()
class NormCalibrationHook(Hook):
    """Add ``checkpoint['norm_calibration']`` to every saved checkpoint: the
    source's own batch-to-batch spread of each BatchNorm layer's
    statistics, measured at that moment on ``num_batches`` batches of the
    training images (test pipeline), which the gated normalisation policy
    (``norm_policy=dict(type='gated')``) tests target batches against;
    and in the checkpoint of the end of training the shift-response rule
    (:func:`calibrate_shift_response`) the ``shift_response`` policy
    reads.

    Training is unchanged (no gradient, evaluation mode, the random state
    restored); it costs ``num_batches`` forward passes per checkpoint, and
    four per simulated shift and repeat once. A training that stops early
    (``EarlyStoppingHook``) gets the rule written into its last checkpoint
    after training.

    Args:
        num_batches: source batches the spread is measured on.
        batch_size: their size; default the test loader's (the adaptation
            batch size the spread must match).
        shift_response: ``'last'`` (the checkpoint of the end of
            training), ``'every'`` checkpoint, or ``'never'``.
    """

    priority = 'LOW'
    SHIFT_RESPONSE_CHOICES = ('last', 'every', 'never')

    def __init__(self, num_batches: int = 16,
                 batch_size: Optional[int] = None,
                 shift_response: str = 'last'):
        if num_batches < 2:
            raise ValueError(f'num_batches must be >= 2 (a spread needs two '
                             f'batches), got {num_batches}')
        if shift_response not in self.SHIFT_RESPONSE_CHOICES:
            valid = ', '.join(self.SHIFT_RESPONSE_CHOICES)
            raise ValueError(f'unknown shift_response {shift_response!r}; '
                             f'valid: {valid}')
        self.num_batches = num_batches
        self.batch_size = batch_size
        self.shift_response = shift_response
        self._last_saved_with_rule = False

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        with_rule = self.shift_response == 'every' or (
            self.shift_response == 'last' and
            runner.iter + 1 >= runner.max_iters)
        checkpoint[CALIBRATION_KEY] = calibrate_model(
            unwrap_model(runner.model), runner.cfg, self.num_batches,
            self.batch_size, shift_response=with_rule)
        self._last_saved_with_rule = with_rule

    def after_train(self, runner) -> None:
        """Training stopped before its last iteration: write the rule into
        the last checkpoint (its weights are the model's now)."""
        path = osp.join(runner.work_dir, 'last_checkpoint')
        if self.shift_response != 'last' or self._last_saved_with_rule or \
                not osp.isfile(path):
            return
        with open(path) as f:
            last = f.read().strip()
        checkpoint = load_checkpoint_file(last, map_location='cpu')
        model = unwrap_model(runner.model)
        checkpoint[CALIBRATION_KEY][SHIFT_RESPONSE_KEY] = \
            calibrate_shift_response(model, runner.cfg,
                                     checkpoint[CALIBRATION_KEY])
        save_checkpoint(checkpoint, last,
                        backend_args=dict(backend='atomic_local'))
        self._last_saved_with_rule = True
        print_log(f'wrote the shift-response rule into {last}',
                  logger='current')
