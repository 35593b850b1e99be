"""A task head defined outside s4t_mm trains inside an s4t_mm model."""
import torch
from mmengine.optim import OptimWrapper

from s4t_mm.models.heads import BaseTaskHead
from s4t_mm.registry import MODELS
from .utils import TINY_BACKBONE, TINY_FUSED_CHANNELS, synthetic_batch


@MODELS.register_module(force=True)
class BrightnessHead(BaseTaskHead):
    """Predicts the image brightness per pixel in [0, 1]."""

    task = 'brightness'
    default_loss = dict(type='MaskedL1Loss')

    def __init__(self, **kwargs):
        super().__init__(out_channels=1, **kwargs)

    def activate(self, raw):
        return raw.sigmoid()

    def loss(self, raw, target):
        return self.loss_module(self.resize(raw, target.shape[-2:]).sigmoid(),
                                target)


def test_outside_head_trains_and_predicts():
    batch = synthetic_batch(n=2, size=32)
    for img, sample in zip(batch['inputs'], batch['data_samples']):
        sample.set_gt('brightness', img.float().mean(0, keepdim=True) / 255)
    model = MODELS.build(dict(
        type='MultiTaskEncoderDecoder',
        data_preprocessor=dict(type='MultiTaskDataPreprocessor',
                               mean=[128.0] * 3, std=[64.0] * 3),
        backbone=TINY_BACKBONE,
        neck=dict(type='MultiLevelConcat'),
        heads=dict(
            brightness=dict(type='BrightnessHead',
                            in_channels=TINY_FUSED_CHANNELS),
            semseg=dict(type='SemSegHead', num_classes=4,
                        in_channels=TINY_FUSED_CHANNELS))))
    wrapper = OptimWrapper(torch.optim.Adam(model.parameters(), lr=1e-2))
    model.train()
    first = model.train_step(batch, wrapper)['loss_brightness'].item()
    for _ in range(30):
        last = model.train_step(batch, wrapper)['loss_brightness'].item()
    assert last < 0.5 * first
    model.eval()
    with torch.no_grad():
        pred = model.test_step(batch)[0].pred('brightness')
    assert pred.shape == (1, 32, 32)
    assert 0.0 <= float(pred.min()) and float(pred.max()) <= 1.0
