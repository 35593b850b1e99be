"""A task defined outside s4t_mm (a head and a task spec) trains inside an
s4t_mm model and is evaluated, drawn and encoded with no other edit."""
import numpy as np
import pytest
import torch
from mmengine.optim import OptimWrapper

from s4t_mm.apis.inference_io import raw_encoding, read_raw, write_raw
from s4t_mm.evaluation import MultiTaskMetric
from s4t_mm.evaluation import multi_task_gain as gain
from s4t_mm.models.heads import BaseTaskHead
from s4t_mm.registry import MODELS, TASKS
from s4t_mm.tasks import TaskSpec
from s4t_mm.visualization import MultiTaskVisualizer
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


class BrightnessTask(TaskSpec):
    """Scored by its L1 error, drawn over the image, stored as 1/65535."""

    evaluator = dict(type='L1Evaluator')
    delta_m_metrics = ('l1', )
    style = 'overlay'
    png16 = dict(scale=65535.0, offset=0.0, note='brightness * 65535')


@pytest.fixture(scope='module')
def trained():
    """A tiny model trained on brightness and semseg: (model, batch, first
    and last brightness loss)."""
    torch.manual_seed(0)
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
    model.eval()
    return model, batch, first, last


@pytest.fixture
def brightness_spec():
    TASKS.register_module(name='brightness', module=BrightnessTask)
    yield BrightnessTask
    TASKS.module_dict.pop('brightness')


def test_outside_head_trains_and_predicts(trained):
    model, batch, first, last = trained
    assert last < 0.5 * first
    with torch.no_grad():
        pred = model.test_step(batch)[0].pred('brightness')
    assert pred.shape == (1, 32, 32)
    assert 0.0 <= float(pred.min()) and float(pred.max()) <= 1.0


def test_a_head_and_a_spec_are_evaluated_drawn_and_encoded(
        trained, brightness_spec, tmp_path):
    model, batch, _, _ = trained
    with torch.no_grad():
        samples = model.test_step(batch)
    # evaluated: found in the samples, pooled over every pixel
    metric = MultiTaskMetric(num_classes=dict(semseg=4))
    metric.process({}, [s.to_dict() for s in samples])
    scores = metric.evaluate(len(samples))
    errors = torch.cat([(s.pred('brightness').double() -
                         s.gt('brightness').double()).abs().flatten()
                        for s in samples])
    assert scores['brightness/l1'] == pytest.approx(float(errors.mean()),
                                                    rel=1e-12)
    assert scores['brightness/l1'] < 0.2 and 'semseg/mIoU' in scores
    assert gain.delta_m_candidates()['brightness'] == ('brightness/l1', )
    assert gain.metric_direction('brightness/l1') == 'lower'
    base = {'semseg/mIoU': scores['semseg/mIoU'],
            'brightness/l1': 2 * scores['brightness/l1']}
    assert gain.delta_m(scores, base) == pytest.approx(25.0)

    # drawn: the spec's overlay tints the dimmed image by the prediction
    visualizer = MultiTaskVisualizer(name='brightness_spec')
    pred = samples[0].pred('brightness')
    image = np.full((32, 32, 3), 100, np.uint8)
    tile = visualizer.draw_task_map('brightness', pred, image, is_gt=False)
    assert visualizer.task_style('brightness', 1) == 'overlay'
    p = float(pred[0, 3, 5])
    expected = (1 - p) * 50 + p * np.array([255, 48, 0])
    np.testing.assert_array_equal(tile[3, 5], np.rint(expected))

    # encoded: a 16-bit PNG of 1/65535 steps, read back
    encoding = raw_encoding('brightness', 'png')
    assert encoding == dict(format='png16', scale=65535.0, offset=0.0,
                            note='brightness * 65535')
    path = write_raw(str(tmp_path / 'b'), 'brightness', pred.numpy(), 'png')
    np.testing.assert_allclose(read_raw(path, encoding), pred[0].numpy(),
                               atol=0.5 / 65535)
