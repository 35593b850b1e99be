"""A stock MMSegmentation config (shipped inside the mmsegmentation package)
runs its normal test flow with BN-adapt and TENT through TestTimeAdaptHook,
with no edit to mmseg: only ``custom_imports`` and ``custom_hooks``."""
import os
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmengine.runner import Runner
from torch.nn.modules.batchnorm import _BatchNorm

from s4t_mm.engine.hooks import TestTimeAdaptHook

CONFIGS = osp.join(osp.dirname(__file__), '..', '..', 'configs', 'mmseg_tta')
NUM_IMAGES, SIZE = 4, 32


def _cityscapes_fixture(root):
    """A few 32x32 images in Cityscapes' layout (19 train ids, 255 =
    ignore)."""
    rng = np.random.default_rng(0)
    for i in range(NUM_IMAGES):
        img = rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)
        label = np.zeros((SIZE, SIZE), np.uint8)
        label[:, SIZE // 2:] = 13  # car
        label[:4] = 255
        img[:, SIZE // 2:] //= 3
        for folder, suffix, array in (
                ('leftImg8bit', 'leftImg8bit', img),
                ('gtFine', 'gtFine_labelTrainIds', label)):
            folder = osp.join(root, folder, 'val', 'tinycity')
            os.makedirs(folder, exist_ok=True)
            cv2.imwrite(osp.join(folder, f'tinycity_{i:06d}_{suffix}.png'),
                        array)


def _tiny(config, tmp_path, name):
    """The stock config shrunk to a narrow ResNet-18 and the fixture."""
    cfg = Config.fromfile(osp.join(CONFIGS, config))
    cfg.merge_from_dict({
        'model.pretrained': None,
        'model.backbone.stem_channels': 8,
        'model.backbone.base_channels': 8,
        'model.decode_head.in_channels': 64,
        'model.decode_head.channels': 16,
        'model.auxiliary_head.in_channels': 32,
        'model.auxiliary_head.channels': 8,
        'test_dataloader.batch_size': 2,
        'test_dataloader.num_workers': 0,
        'test_dataloader.persistent_workers': False,
        'test_dataloader.dataset.data_root': str(tmp_path / 'cityscapes'),
        'test_dataloader.dataset.pipeline.1.scale': (SIZE, SIZE),
        'visualizer.name': name,
        'work_dir': str(tmp_path / 'work'),
        'experiment_name': name,
    })
    return cfg


@pytest.fixture
def _scope_restored():
    saved = DefaultScope._instance_dict.copy()
    yield
    DefaultScope._instance_dict = saved


def _norm_state(model):
    return {f'{n}.{k}': v.detach().clone()
            for n, m in model.named_modules() if isinstance(m, _BatchNorm)
            for k, v in list(m.named_parameters(recurse=False)) +
            list(m.named_buffers(recurse=False))}


def _changed(before, after, part):
    return sorted({k.rsplit('.', 1)[1] for k in before
                   if k.startswith(part) and not torch.equal(before[k],
                                                             after[k])})


def _test(cfg):
    """Run the test loop; also record, for every batch the data
    preprocessor sees, whether its samples carry ``gt_sem_seg``."""
    runner = Runner.from_cfg(cfg)
    before = _norm_state(runner.model)
    preprocessor = runner.model.data_preprocessor
    forward, labelled = preprocessor.forward, []

    def recording_forward(data, training=False):
        labelled.append(all('gt_sem_seg' in s for s in data['data_samples']))
        return forward(data, training)

    preprocessor.forward = recording_forward
    metrics = runner.test()
    stats = runner.message_hub.get_info('tta_stats')
    return runner, before, _norm_state(runner.model), metrics, stats, \
        labelled


def test_bn_adapt_on_a_stock_mmseg_config(tmp_path, _scope_restored):
    _cityscapes_fixture(str(tmp_path / 'cityscapes'))
    cfg = _tiny('fcn_r18_cityscapes_bn_adapt.py', tmp_path, 'mmseg_bn')
    assert cfg.model.type == 'EncoderDecoder'  # the stock segmentor
    runner, before, after, metrics, stats, labelled = _test(cfg)
    assert {'aAcc', 'mIoU', 'mAcc'} <= set(metrics)
    batches = NUM_IMAGES // 2
    # per batch: the adapter's unlabeled copy, then the test loop's batch
    assert labelled == [False, True] * batches
    assert stats['steps'] == batches and stats['resets'] == batches
    # running statistics moved, affine parameters did not
    assert _changed(before, after, 'backbone') == [
        'num_batches_tracked', 'running_mean', 'running_var']
    hook = next(h for h in runner.hooks if isinstance(h, TestTimeAdaptHook))
    assert hook.adapter.model is runner.model


def test_tent_on_a_stock_mmseg_config(tmp_path, _scope_restored):
    _cityscapes_fixture(str(tmp_path / 'cityscapes'))
    cfg = _tiny('fcn_r18_cityscapes_tent.py', tmp_path, 'mmseg_tent')
    runner, before, after, metrics, stats, labelled = _test(cfg)
    assert {'aAcc', 'mIoU', 'mAcc'} <= set(metrics)
    assert labelled == [False, True] * (NUM_IMAGES // 2)
    assert stats['steps'] == NUM_IMAGES // 2 and stats['resets'] == 0
    assert stats['skipped_non_finite_loss'] == 0
    for part in ('backbone', 'decode_head'):
        assert {'weight', 'bias'} <= set(_changed(before, after, part))
    hook = next(h for h in runner.hooks if isinstance(h, TestTimeAdaptHook))
    assert set(hook.adapter.last_losses) == {'semseg.entropy'}
