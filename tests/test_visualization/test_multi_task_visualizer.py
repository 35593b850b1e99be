"""MultiTaskVisualizer: tile colours per task style, grids, backends."""
import os.path as osp

import mmcv
import numpy as np
import pytest
import torch
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from s4t_mm.registry import VISUALIZERS
from s4t_mm.structures import MultiTaskDataSample
from s4t_mm.visualization import IGNORE_COLOR, MultiTaskVisualizer

PALETTE = [[255, 0, 0], [0, 255, 0], [0, 0, 255]]


def _visualizer(name, **kwargs):
    kwargs.setdefault('draw_labels', False)
    vis = MultiTaskVisualizer(name=name, **kwargs)
    vis.dataset_meta = dict(classes=('a', 'b', 'c'), palette=PALETTE)
    return vis


def _image(h=4, w=6, value=100):
    return np.full((h, w, 3), value, dtype=np.uint8)


def _tile(grid, rows, cols, r, c, h, w):
    """Tile (r, c) of a label-free grid of rows x cols tiles of h x w,
    whatever the spacing between them."""
    gap_y = (grid.shape[0] - rows * h) // (rows + 1)
    gap_x = (grid.shape[1] - cols * w) // (cols + 1)
    y, x = gap_y + r * (h + gap_y), gap_x + c * (w + gap_x)
    return grid[y:y + h, x:x + w]


def test_palette_tile_blends_class_colours_and_greys_ignore():
    vis = _visualizer('vis_palette', alpha=1.0)
    seg = torch.tensor([[[0, 1, 2, 255, 0, 1]] * 4])
    tile = vis.draw_task_map('semseg', seg, _image())
    assert tile[0, 0].tolist() == PALETTE[0]
    assert tile[0, 1].tolist() == PALETTE[1]
    assert tile[0, 2].tolist() == PALETTE[2]
    assert tile[0, 3].tolist() == list(IGNORE_COLOR)
    # a prediction has no ignore value, and alpha blends over the image
    vis.alpha = 0.5
    tile = vis.draw_task_map('semseg', seg.clamp(max=2), _image(),
                             is_gt=False)
    assert tile[0, 0].tolist() == [178, 50, 50]


def test_palette_without_dataset_colours_is_generated_and_fixed():
    vis = MultiTaskVisualizer(name='vis_generated', alpha=1.0)
    parts = torch.arange(8).view(1, 2, 4)
    first = vis.draw_task_map('human_parts', parts, _image(2, 4))
    again = vis.draw_task_map('human_parts', parts, _image(2, 4))
    assert np.array_equal(first, again)
    assert len({tuple(c) for c in first.reshape(-1, 3)}) == 8


def test_depth_gt_and_prediction_share_one_colour_range():
    vis = _visualizer('vis_depth')
    gt = torch.full((1, 4, 6), 1.0)
    gt[0, :, :3] = 6.0
    gt[0, 1, 4] = 2.0
    gt[0, 0, 0] = 255.0  # ignore
    pred = torch.full((1, 4, 6), 2.0)
    pred[0, :, 3:] = 4.0
    sample = MultiTaskDataSample()
    sample.set_gt('depth', gt)
    sample.set_pred('depth', pred)
    grid = vis.add_datasample('depth', _image(), sample, out_file=None)
    gt_tile = _tile(grid, 2, 2, 0, 1, 4, 6)
    pred_tile = _tile(grid, 2, 2, 1, 1, 4, 6)
    assert gt_tile[0, 0].tolist() == list(IGNORE_COLOR)
    # 2 m is the same colour in both maps, though the prediction alone
    # would map 2 m to the bottom of its own range
    assert gt_tile[1, 4].tolist() == pred_tile[1, 0].tolist()
    assert gt_tile[1, 0].tolist() != pred_tile[1, 0].tolist()
    alone = vis.draw_task_map('depth', pred, _image(), is_gt=False)
    assert alone[1, 0].tolist() != pred_tile[1, 0].tolist()


def test_normals_are_rgb_of_half_shifted_vectors():
    vis = _visualizer('vis_normals')
    normals = torch.zeros(3, 2, 2)
    normals[2] = -1.0
    normals[:, 0, 1] = torch.tensor([1.0, 0.0, 0.0])
    normals[:, 1, 1] = 255.0
    tile = vis.draw_task_map('normals', normals, _image(2, 2))
    assert tile[0, 0].tolist() == [128, 128, 0]
    assert tile[0, 1].tolist() == [255, 128, 128]
    assert tile[1, 1].tolist() == list(IGNORE_COLOR)


def test_edges_and_saliency_tint_the_dimmed_image():
    vis = _visualizer('vis_edge', overlay_color=(0, 255, 0))
    edge = torch.tensor([[[0.0, 1.0, 255.0]]])
    tile = vis.draw_task_map('edge', edge, _image(1, 3, 200))
    assert tile[0, 0].tolist() == [100, 100, 100]
    assert tile[0, 1].tolist() == [0, 255, 0]
    assert tile[0, 2].tolist() == list(IGNORE_COLOR)
    prob = torch.tensor([[[0.5]]])
    tile = vis.draw_task_map('saliency', prob, _image(1, 1, 200),
                             is_gt=False)
    assert tile[0, 0].tolist() == [50, 178, 50]


def test_maps_of_another_size_are_resized_to_the_image():
    vis = _visualizer('vis_resize', alpha=1.0)
    seg = torch.tensor([[[0, 1], [2, 0]]])
    tile = vis.draw_task_map('semseg', seg, _image(4, 4), is_gt=False)
    assert tile.shape == (4, 4, 3)
    assert tile[3, 0].tolist() == PALETTE[2]


def test_unknown_styles_are_errors_naming_the_choices():
    with pytest.raises(ValueError, match='valid styles: palette'):
        MultiTaskVisualizer(name='vis_bad', task_styles=dict(depth='jet'))
    vis = MultiTaskVisualizer(name='vis_bad2')
    with pytest.raises(ValueError, match="task 'flow' with 2 channels"):
        vis.draw_task_map('flow', torch.zeros(2, 2, 2), _image(2, 2))
    vis = MultiTaskVisualizer(name='vis_flow',
                              task_styles=dict(flow='normals'))
    assert vis.draw_task_map('flow', torch.zeros(3, 2, 2),
                             _image(2, 2)).shape == (2, 2, 3)


def _full_sample(pred_shift=0.0):
    sample = MultiTaskDataSample()
    sample.set_gt('semseg', torch.tensor([[[0, 1, 2, 255]] * 2]))
    sample.set_gt('depth', torch.tensor([[[1.0, 2.0, 3.0, 255.0]] * 2]))
    sample.set_pred('semseg', torch.tensor([[[0, 1, 1, 2]] * 2]))
    sample.set_pred('depth',
                    torch.tensor([[[1.0, 2.0, 3.0, 4.0]] * 2]) + pred_shift)
    sample.set_pred('edge', torch.tensor([[[0.0, 0.2, 0.9, 1.0]] * 2]))
    return sample


def test_add_datasample_writes_out_file_or_backends(tmp_path):
    vis = _visualizer('vis_local', draw_labels=True,
                      vis_backends=[dict(type='LocalVisBackend')],
                      save_dir=str(tmp_path / 'vis'))
    out = str(tmp_path / 'out' / 'sample.png')
    drawn = vis.add_datasample('sample', _image(2, 4), _full_sample(),
                               out_file=out)
    assert np.array_equal(mmcv.imread(out, channel_order='rgb'), drawn)
    assert np.array_equal(vis.get_image(), drawn)
    vis.add_datasample('sample', _image(2, 4), _full_sample(), step=3)
    saved = tmp_path / 'vis' / 'vis_data' / 'vis_image' / 'sample_3.png'
    assert np.array_equal(mmcv.imread(str(saved), channel_order='rgb'),
                          drawn)
    only_pred = vis.add_datasample('sample', _image(2, 4), _full_sample(),
                                   draw_gt=False, out_file=out)
    assert only_pred.shape[0] < drawn.shape[0]


def test_grid_columns_follow_the_model_tasks():
    vis = _visualizer('vis_grid')
    grid = vis.add_datasample('g', _image(2, 4), _full_sample(),
                              out_file=None)
    # image + semseg, depth, edge (predicted) columns; gt has no edge map
    assert grid.shape == (2 + 2 * (2 + 2), 2 + 4 * (4 + 2), 3)
    gt_edge = _tile(grid, 2, 4, 0, 3, 2, 4)
    assert (gt_edge == 255).all()  # empty cell
    assert np.array_equal(_tile(grid, 2, 4, 1, 0, 2, 4), _image(2, 4))


def test_tensorboard_backend_records_the_drawing(tmp_path):
    pytest.importorskip('tensorboard')
    from tensorboard.backend.event_processing.event_accumulator import \
        EventAccumulator
    vis = _visualizer('vis_tb', vis_backends=[dict(
        type='TensorboardVisBackend')], save_dir=str(tmp_path))
    drawn = vis.add_datasample('tb', _image(2, 4), _full_sample(), step=7)
    vis.close()
    events = EventAccumulator(str(tmp_path / 'vis_data'))
    events.Reload()
    (image, ) = events.Images('tb')
    assert image.step == 7
    assert np.array_equal(mmcv.imfrombytes(image.encoded_image_string,
                                           channel_order='rgb'), drawn)


def test_add_comparison_stacks_one_row_per_run_with_a_shared_range():
    vis = _visualizer('vis_cmp')
    source, adapted = _full_sample(), _full_sample(pred_shift=1.0)
    grid = vis.add_comparison('cmp', _image(2, 4),
                              dict(source_only=source, adapted=adapted))
    rows, cols = 3, 4
    assert grid.shape == (2 + rows * (2 + 2), 2 + cols * (4 + 2), 3)
    gt_depth = _tile(grid, rows, cols, 0, 2, 2, 4)
    src_depth = _tile(grid, rows, cols, 1, 2, 2, 4)
    ada_depth = _tile(grid, rows, cols, 2, 2, 2, 4)
    # 2 m and 3 m look the same in every row that has them
    assert np.array_equal(src_depth[:, 1], gt_depth[:, 1])
    assert np.array_equal(ada_depth[:, 0], src_depth[:, 1])
    assert np.array_equal(ada_depth[:, 1], src_depth[:, 2])
    assert np.array_equal(_tile(grid, rows, cols, 1, 1, 2, 4),
                          _tile(grid, rows, cols, 2, 1, 2, 4))
    no_gt = vis.add_comparison('cmp', _image(2, 4), dict(a=source),
                               draw_gt=False)
    assert no_gt.shape[0] == 2 + 1 * (2 + 2)
    with pytest.raises(ValueError, match='at least one sample'):
        vis.add_comparison('cmp', _image(2, 4), {})


def test_draws_mmseg_seg_data_samples():
    vis = _visualizer('vis_mmseg', alpha=1.0)
    sample = SegDataSample()
    sample.gt_sem_seg = PixelData(data=torch.tensor([[[0, 255]]]))
    sample.pred_sem_seg = PixelData(data=torch.tensor([[[2, 1]]]))
    sample.seg_logits = PixelData(data=torch.zeros(3, 1, 2))
    grid = vis.add_datasample('seg', _image(1, 2), sample)
    assert grid.shape == (2 + 2 * (1 + 2), 2 + 2 * (2 + 2), 3)
    assert _tile(grid, 2, 2, 0, 1, 1, 2)[0].tolist() == [
        PALETTE[0], list(IGNORE_COLOR)]
    assert _tile(grid, 2, 2, 1, 1, 1, 2)[0].tolist() == [
        PALETTE[2], PALETTE[1]]


def test_builds_from_the_registry_and_from_mmseg_scope(tmp_path):
    vis = VISUALIZERS.build(dict(type='MultiTaskVisualizer',
                                 name='vis_registry', alpha=0.3))
    assert isinstance(vis, MultiTaskVisualizer) and vis.alpha == 0.3
    from mmseg.registry import VISUALIZERS as MMSEG_VISUALIZERS
    vis = MMSEG_VISUALIZERS.build(dict(
        type='s4t_mm.MultiTaskVisualizer', name='vis_mmseg_scope',
        vis_backends=[dict(type='LocalVisBackend')],
        save_dir=str(tmp_path)))
    assert isinstance(vis, MultiTaskVisualizer)
    vis.add_datasample('x', _image(2, 4), _full_sample())
    assert osp.isfile(tmp_path / 'vis_data' / 'vis_image' / 'x_0.png')
