"""The keys under a drawn grid or picture: class legend, colour bar with
units, the RGB of normals, the overlay's probability ramp."""
import matplotlib
import numpy as np
import pytest
import torch

from s4t_mm.structures import MultiTaskDataSample
from s4t_mm.visualization import (MultiTaskVisualizer, map_keys,
                                  shared_range)
from s4t_mm.visualization.map_keys import (RAMP_SIZE, SWATCH, legend_key,
                                           ramp_key, with_keys)

PALETTE = [[255, 0, 0], [0, 255, 0], [0, 0, 255]]


def _visualizer(name, **kwargs):
    vis = MultiTaskVisualizer(name=name, **kwargs)
    vis.dataset_meta = dict(classes=('a', 'b', 'c'), palette=PALETTE)
    return vis


def _sample(h=20, w=30):
    sample = MultiTaskDataSample()
    seg = torch.zeros(1, h, w, dtype=torch.long)
    seg[:, :, w // 2:] = 2  # classes 0 and 2, never 1
    sample.set_pred('semseg', seg)
    sample.set_pred('depth', torch.linspace(1, 5, h * w).view(1, h, w))
    normals = torch.zeros(3, h, w)
    normals[0] = 1
    sample.set_pred('normals', normals)
    sample.set_pred('edge', torch.rand(1, h, w))
    return sample


def _has_block(image, color, size=SWATCH):
    """Whether ``image`` holds a ``size`` x ``size`` block of ``color``."""
    match = (image == np.asarray(color, np.uint8)).all(axis=2)
    for y, x in zip(*np.nonzero(match)):
        if match[y:y + size, x:x + size].sum() == size * size:
            return True
    return False


def _has_ramp(image, colors):
    """Whether some row of ``image`` holds ``colors`` (W, 3) in a run."""
    colors = np.clip(np.rint(colors), 0, 255).astype(np.uint8)
    for row in image:
        for x in np.nonzero((row == colors[0]).all(axis=1))[0]:
            if x + len(colors) <= len(row) and \
                    (row[x:x + len(colors)] == colors).all():
                return True
    return False


def test_a_grid_gets_a_legend_of_the_classes_present_and_a_colour_bar():
    image = np.full((20, 30, 3), 128, np.uint8)
    rows = [('prediction', _sample(), False)]
    plain = _visualizer('keys_plain').draw_grid(image, rows)
    vis = _visualizer('keys_drawn', draw_keys=True)
    keyed = vis.draw_grid(image, rows)

    # the grid is unchanged above its keys
    assert keyed.shape[0] > plain.shape[0]
    assert (keyed[:plain.shape[0], :plain.shape[1]] == plain).all()
    strip = keyed[plain.shape[0]:]
    # class colours of the classes in the maps, not of the others
    assert _has_block(strip, PALETTE[0]) and _has_block(strip, PALETTE[2])
    assert not (strip == PALETTE[1]).all(axis=2).any()
    # the depth colour map from its low end to its high end
    ramp = vis.cmap(np.linspace(0, 1, RAMP_SIZE[0]))[:, :3] * 255
    assert _has_ramp(strip, ramp)
    # normals along +x and -z in the colours the tiles use
    assert _has_block(strip, [255, 128, 128])
    assert _has_block(strip, [128, 128, 0])
    # the edge tint from the dimmed grey (p = 0) to the overlay (p = 1)
    p = np.linspace(0, 1, RAMP_SIZE[0])[:, None]
    assert _has_ramp(strip, (1 - p) * 64 + p * vis.overlay_color)


def test_key_colours_are_the_colours_of_the_tiles():
    vis = _visualizer('keys_tiles', draw_keys=True)
    image = np.full((20, 30, 3), 128, np.uint8)
    sample = _sample()
    normals_tile = vis.draw_task_map('normals', sample.pred('normals'),
                                     image, is_gt=False)
    edge = torch.zeros(1, 20, 30)
    edge[..., 1::2] = 1
    edge_tile = vis.draw_task_map('edge', edge, image, is_gt=False)
    keyed = vis.draw_grid(image, [('p', sample, False)])
    strip = keyed[_visualizer('keys_tiles_plain').draw_grid(
        image, [('p', sample, False)]).shape[0]:]
    assert _has_block(strip, normals_tile[0, 0])  # +x
    # the probability ramp runs from the p = 0 tint to the p = 1 tint
    assert _has_ramp(strip, np.linspace(edge_tile[0, 0], edge_tile[0, 1],
                                        RAMP_SIZE[0]))


def test_the_colour_bar_is_titled_with_the_datasets_units(monkeypatch):
    titles = []
    ramp = map_keys.ramp_key

    def recorded(title, colors, value_range):
        titles.append((title, value_range))
        return ramp(title, colors, value_range)

    monkeypatch.setattr(map_keys, 'ramp_key', recorded)
    vis = _visualizer('keys_units', draw_keys=True)
    values = np.linspace(1, 5, 101)
    map_keys.task_key(vis, 'depth', 'colormap', values, (1.5, 4.5))
    vis.dataset_meta['depth_units'] = 'log depth'
    map_keys.task_key(vis, 'depth', 'colormap', values)
    custom = _visualizer('keys_units_arg', units=dict(depth='mm'))
    map_keys.task_key(custom, 'depth', 'colormap', values, (1.5, 4.5))
    assert titles == [('depth (m)', (1.5, 4.5)),
                      ('depth (log depth)', pytest.approx((1.08, 4.92))),
                      ('depth (mm)', (1.5, 4.5))]


def test_a_single_picture_carries_its_key_under_it():
    vis = _visualizer('keys_picture', draw_keys=True)
    image = np.full((20, 30, 3), 128, np.uint8)
    depth = _sample().pred('depth')
    picture = vis.draw_task_picture('depth', depth, image)
    tile = vis.draw_task_map('depth', depth, image, is_gt=False,
                             value_range=shared_range([depth.numpy()]))
    assert (picture[:20, :30] == tile).all()
    assert picture.shape[0] > 20 and picture.shape[1] >= RAMP_SIZE[0]
    assert (picture[:20, 30:] == 255).all()  # widened for its key
    plain = _visualizer('keys_picture_off').draw_task_picture(
        'depth', depth, image)
    assert (plain == tile).all()


def test_a_legend_wraps_within_its_width():
    colors = matplotlib.colormaps['tab20'](np.arange(12))[:, :3] * 255
    names = [f'class {i}' for i in range(12)]
    wide = legend_key('semseg classes', colors, names, 2000)
    narrow = legend_key('semseg classes', colors, names, 150)
    assert narrow.shape[1] <= 150 < wide.shape[1]
    assert narrow.shape[0] > wide.shape[0]
    for key in (wide, narrow):
        for color in np.rint(colors):
            assert _has_block(key, color)


def test_ramp_labels_and_key_layout():
    colors = np.linspace([0, 0, 0], [255, 255, 255], 100)
    key = ramp_key('t', colors, (0.0, 2.0))
    assert _has_ramp(key, colors)
    labels = key[27:]  # the values under the ramp: left, middle, right
    assert (labels[:, :20] < 200).any()
    assert (labels[:, 45:60] < 200).any()
    assert (labels[:, -25:] < 200).any()
    picture = np.zeros((10, 40, 3), np.uint8)
    small = np.full((5, 30, 3), 7, np.uint8)
    laid = with_keys(picture, [small, small])
    assert laid.shape == (10 + 4 + 10, 40, 3)  # the second key wraps
    assert (laid[:10] == 0).all()
    assert (laid[14:19, :30] == 7).all() and (laid[19:24, :30] == 7).all()
    assert with_keys(picture, []) is picture
