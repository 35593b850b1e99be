"""MultiTaskVisualizationHook: what is drawn where, saved maps, side-by-side
composition of runs, and a real test run."""
import os.path as osp
from types import SimpleNamespace

import mmcv
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmengine.runner import Runner
from mmengine.visualization import Visualizer

from s4t_mm.engine.hooks.multi_task_visualization_hook import (
    MultiTaskVisualizationHook, batch_image, compose_comparisons,
    load_sample_maps, sample_id, with_visualization_hook)
from s4t_mm.registry import HOOKS
from s4t_mm.structures import MultiTaskDataSample
from s4t_mm.visualization import MultiTaskVisualizer
from ..test_models.utils import tiny_model_cfg

META = dict(classes=('a', 'b', 'c'), palette=[[255, 0, 0], [0, 255, 0],
                                              [0, 0, 255]],
            tasks=('semseg', 'depth'))


def _batch(n, offset=0, pred_shift=0.0):
    inputs, samples = [], []
    for i in range(offset, offset + n):
        img = torch.zeros(3, 4, 6, dtype=torch.uint8)
        img[0] = 10 * i  # blue in BGR
        img[2] = 200  # red
        sample = MultiTaskDataSample(metainfo=dict(
            img_path=f'data/images/img{i}.png'))
        sample.set_gt('semseg', torch.full((1, 4, 6), i % 3))
        sample.set_gt('depth', torch.full((1, 4, 6), 1.0 + i))
        sample.set_pred('semseg', torch.full((1, 4, 6), (i + 1) % 3))
        sample.set_pred('depth', torch.full((1, 4, 6), 2.0 + pred_shift))
        inputs.append(img)
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples), samples


def _runner(tmp_path, name, visualizer=None):
    visualizer = visualizer or MultiTaskVisualizer(
        name=name, vis_backends=[dict(type='LocalVisBackend')],
        save_dir=str(tmp_path / 'vis'))
    visualizer.dataset_meta = META
    return SimpleNamespace(visualizer=visualizer, iter=0)


def _run(hook, runner, batches):
    hook.before_test_epoch(runner)
    for idx, (batch, outputs) in enumerate(batches):
        hook.after_test_iter(runner, idx, batch, outputs)


def _backend_images(tmp_path):
    folder = tmp_path / 'vis' / 'vis_data' / 'vis_image'
    return sorted(p.name for p in folder.iterdir()) if folder.exists() \
        else []


def test_batch_image_is_rgb_hwc_and_ids_come_from_paths():
    batch, samples = _batch(1, offset=3)
    image = batch_image(batch, 0)
    assert image.shape == (4, 6, 3) and image.dtype == np.uint8
    assert image[0, 0].tolist() == [200, 0, 30]
    assert sample_id(samples[0], 7) == 'img3'
    samples[0].set_metainfo(dict(sample_idx=12))
    assert sample_id(samples[0], 7) == '000012_img3'
    synthetic = MultiTaskDataSample(metainfo=dict(
        sample_idx=5, img_path='synthetic://source/test/5'))
    assert sample_id(synthetic, 7) == '000005'
    assert sample_id(MultiTaskDataSample(), 7) == '7'


def test_without_show_dir_every_interval_th_sample_goes_to_backends(
        tmp_path):
    runner = _runner(tmp_path, 'hook_interval')
    hook = MultiTaskVisualizationHook(draw=True, interval=3, tag='tgt')
    _run(hook, runner, [_batch(2), _batch(2, offset=2), _batch(2, 4)])
    assert _backend_images(tmp_path) == ['tgt_img0_0.png', 'tgt_img3_3.png']
    off = MultiTaskVisualizationHook(draw=False)
    _run(off, _runner(tmp_path / 'off', 'hook_off'), [_batch(2)])
    assert _backend_images(tmp_path / 'off') == []


def test_with_show_dir_every_sample_is_drawn_per_run(tmp_path):
    runner = _runner(tmp_path, 'hook_show_dir')
    hook = MultiTaskVisualizationHook(
        draw=True, interval=50, show_dir=str(tmp_path / 'show'),
        tag='source_only', run_names=['fog', 'snow'], save_maps=True)
    _run(hook, runner, [_batch(2), _batch(1, offset=2)])
    _run(hook, runner, [_batch(1)])
    folder = tmp_path / 'show' / 'source_only'
    assert sorted(p.name for p in (folder / 'fog').iterdir()) == [
        'img0.npz', 'img0.png', 'img1.npz', 'img1.png', 'img2.npz',
        'img2.png']
    assert sorted(p.name for p in (folder / 'snow').iterdir()) == [
        'img0.npz', 'img0.png']
    assert _backend_images(tmp_path) == []  # files instead of backends
    drawn = mmcv.imread(str(folder / 'fog' / 'img1.png'),
                        channel_order='rgb')
    assert drawn.shape[0] > 2 * 4  # a ground-truth and a prediction row
    image, sample, meta = load_sample_maps(str(folder / 'fog' / 'img1.npz'))
    assert image[0, 0].tolist() == [200, 0, 10]
    assert sample.gt('semseg').dtype == torch.long
    assert torch.equal(sample.pred('semseg'), torch.full((1, 4, 6), 2))
    assert torch.equal(sample.gt('depth'), torch.full((1, 4, 6), 2.0))
    assert meta == dict(classes=['a', 'b', 'c'], palette=META['palette'])
    with pytest.raises(ValueError, match='names only 2'):
        hook.before_test_epoch(runner)


def test_compose_comparisons_puts_runs_in_rows(tmp_path):
    show = str(tmp_path / 'show')
    for tag, shift, n in (('source_only', 0.0, 3), ('adapted', 1.0, 2)):
        hook = MultiTaskVisualizationHook(draw=True, show_dir=show,
                                          tag=tag, save_maps=True)
        _run(hook, _runner(tmp_path, f'hook_{tag}'),
             [_batch(n, pred_shift=shift)])
    vis = MultiTaskVisualizer(name='compose_vis', draw_labels=False)
    written = compose_comparisons(show, ['source_only', 'adapted'],
                                  visualizer=vis)
    assert written == [osp.join(show, 'comparison', 'img0.png'),
                       osp.join(show, 'comparison', 'img1.png')]
    grid = mmcv.imread(written[1], channel_order='rgb')
    # ground truth, source_only, adapted rows; image, semseg, depth columns
    assert grid.shape == (2 + 3 * (4 + 2), 2 + 3 * (6 + 2), 3)
    assert grid[2, 2].tolist() == [200, 0, 10]
    assert grid[2 + 6, 2 + 8].tolist() != grid[2, 2 + 8].tolist()
    src_depth = grid[2 + 6, 2 + 16].tolist()
    ada_depth = grid[2 + 12, 2 + 16].tolist()
    assert src_depth != ada_depth  # 2 m vs 3 m in one shared range
    with pytest.raises(FileNotFoundError, match='save_maps=True'):
        compose_comparisons(show, ['nothing'])


def test_fallback_visualizer_draws_to_the_runner_backends(tmp_path):
    plain = Visualizer(name='plain_vis',
                       vis_backends=[dict(type='LocalVisBackend')],
                       save_dir=str(tmp_path / 'vis'))
    runner = _runner(tmp_path, 'unused', visualizer=plain)
    hook = MultiTaskVisualizationHook(draw=True, interval=1, tag='t')
    _run(hook, runner, [_batch(1)])
    assert _backend_images(tmp_path) == ['t_img0_0.png']
    assert hook.visualizer(runner).dataset_meta == META


def test_val_draws_the_first_sample_of_every_interval_th_batch(tmp_path):
    runner = _runner(tmp_path, 'hook_val')
    runner.iter = 11
    hook = MultiTaskVisualizationHook(draw=True, interval=2)
    for idx in range(3):
        batch, outputs = _batch(2, offset=2 * idx)
        hook.after_val_iter(runner, idx, batch, outputs)
    assert _backend_images(tmp_path) == ['val_img2_11.png']


def test_arguments_are_checked_and_config_helper_replaces_the_hook():
    with pytest.raises(ValueError, match='interval must be >= 1'):
        MultiTaskVisualizationHook(interval=0)
    with pytest.raises(ValueError, match='needs a show_dir'):
        MultiTaskVisualizationHook(save_maps=True)
    # the hook is found by class, however its type is spelled
    cfg = Config(dict(custom_hooks=[
        dict(type='TestTimeAdaptHook', adapter=dict(type='S4TAdapter')),
        dict(type='MultiTaskVisualizationHook', draw=False),
        dict(type='s4t_mm.MultiTaskVisualizationHook', draw=False),
        dict(type=MultiTaskVisualizationHook, draw=False)]))
    out = with_visualization_hook(cfg, 'show', 'adapted_seed0', ['a', 'b'])
    assert [h['type'] for h in out.custom_hooks] == [
        'TestTimeAdaptHook', 's4t_mm.MultiTaskVisualizationHook']
    assert out.custom_hooks[1]['run_names'] == ['a', 'b']
    assert len(cfg.custom_hooks) == 4 and not cfg.custom_hooks[1]['draw']
    hook = HOOKS.build(out.custom_hooks[1])
    assert hook.draw and hook.save_maps and hook.tag == 'adapted_seed0'


@pytest.fixture
def _scope_restored():
    saved = DefaultScope._instance_dict.copy()
    yield
    DefaultScope._instance_dict = saved


def test_test_run_of_a_runner_draws_every_sample(tmp_path, _scope_restored):
    cfg = Config(dict(
        model=tiny_model_cfg(),
        work_dir=str(tmp_path / 'work'),
        experiment_name='vis_hook_run',
        default_scope='s4t_mm',
        visualizer=dict(type='MultiTaskVisualizer', name='vis_hook_run'),
        test_dataloader=dict(
            batch_size=2, num_workers=0,
            sampler=dict(type='DefaultSampler', shuffle=False),
            dataset=dict(type='SyntheticWorldDataset', style='target_warm',
                         split='test', num_samples=3, img_size=32,
                         tasks=['semseg', 'depth', 'normals', 'edge'],
                         pipeline=[dict(type='PackMultiTaskInputs')])),
        test_evaluator=dict(type='MultiTaskMetric'),
        test_cfg=dict(type='TestLoop'),
        custom_hooks=[dict(type='MultiTaskVisualizationHook', draw=True,
                           show_dir=str(tmp_path / 'show'),
                           tag='source_only')]))
    metrics = Runner.from_cfg(cfg).test()
    assert 'semseg/mIoU' in metrics
    folder = tmp_path / 'show' / 'source_only'
    assert sorted(p.name for p in folder.iterdir()) == [
        '000000.png', '000001.png', '000002.png']
    drawn = mmcv.imread(str(folder / '000002.png'), channel_order='rgb')
    assert drawn.shape[0] > 2 * 32 and drawn.shape[1] > 5 * 32
