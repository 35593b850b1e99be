"""Calibrate a source checkpoint: the source's own batch-to-batch spread of
its normalisation statistics, stored in the checkpoint, which
:class:`~s4t_mm.tta.norm_policies.GatedNormPolicy` tests target batches
against."""
import copy
import os.path as osp
from typing import Iterator, Optional, Union

import torch
from mmengine.config import Config
from mmengine.logging import print_log
from mmengine.registry import init_default_scope
from mmengine.runner import Runner
from mmengine.runner.checkpoint import save_checkpoint

from s4t_mm.engine.checkpoint import load_model_checkpoint
from s4t_mm.registry import MODELS
from s4t_mm.structures import without_ground_truth
from s4t_mm.tta.norm_policies.gated_norm_policy import CALIBRATION_KEY
from s4t_mm.tta.norm_policies.norm_statistics import calibrate_spread


def calibration_loader_cfg(cfg: Config, batch_size: Optional[int] = None
                           ) -> dict:
    """The source images the spread is measured on: the training set with
    the test pipeline (no augmentation: the statistics a target batch is
    compared with are those of un-augmented images), in order, in batches
    of the test loader's size (the adaptation batch size)."""
    loader = copy.deepcopy(cfg.train_dataloader)
    loader.dataset.pipeline = copy.deepcopy(
        cfg.test_dataloader.dataset.pipeline)
    loader.sampler = dict(type='DefaultSampler', shuffle=False)
    loader.batch_size = batch_size or cfg.test_dataloader.batch_size
    loader.num_workers = 0
    loader.pop('persistent_workers', None)
    return loader


def calibration_batches(model, loader, num_batches: int
                        ) -> Iterator[torch.Tensor]:
    """Preprocessed source images (ground truth stripped), whole batches
    only."""
    done = 0
    for batch in loader:
        if done == num_batches:
            return
        batch = dict(batch, data_samples=[
            without_ground_truth(s) for s in batch['data_samples']])
        inputs = model.data_preprocessor(batch, training=False)['inputs']
        if inputs.shape[0] != loader.batch_size:
            return
        done += 1
        yield inputs


def calibrate_model(model, cfg: Config, num_batches: int = 16,
                    batch_size: Optional[int] = None) -> dict:
    """The spread of ``model`` on ``num_batches`` source batches."""
    loader = Runner.build_dataloader(calibration_loader_cfg(cfg, batch_size))
    calibration = calibrate_spread(
        model, calibration_batches(model, loader, num_batches))
    if calibration['num_batches'] < num_batches:
        print_log(f'calibrated on {calibration["num_batches"]} source '
                  f'batches (the training set has no more), not '
                  f'{num_batches}', logger='current', level=30)
    return calibration


def calibrate_checkpoint(config: Union[str, Config], checkpoint: str,
                         out: str,
                         num_batches: int = 16,
                         batch_size: Optional[int] = None) -> dict:
    """Write ``out``: ``checkpoint`` with its calibration under
    :data:`CALIBRATION_KEY` (the weights and everything else unchanged).
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
                                               batch_size)
    save_checkpoint(content, out,
                    backend_args=dict(backend='atomic_local'))
    return content[CALIBRATION_KEY]
