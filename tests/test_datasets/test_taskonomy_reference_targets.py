"""Taskonomy in the S4T reference's units: log-normalised depth and the
blurred occlusion-edge strength."""
import math

import cv2
import numpy as np
import pytest
from mmcv.transforms import LoadImageFromFile
from PIL import Image

from s4t_mm.datasets.taskonomy import TaskonomyDataset
from s4t_mm.datasets.transforms.loading import LoadMultiTaskAnnotations

S = 8


def _write(root, domain, array):
    folder = root / domain / 'taskonomy' / 'bldA'
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f'point_0_view_0_domain_{domain}.png'
    if array.dtype == np.uint16:
        cv2.imwrite(str(path), array)
    else:
        Image.fromarray(array).save(path)


def _dataset(tmp_path, **kwargs):
    _write(tmp_path, 'rgb', np.zeros((S, S, 3), np.uint8))
    depth = np.full((S, S), 511, np.uint16)
    depth[0, 0] = 65535
    _write(tmp_path, 'depth_zbuffer', depth)
    edge = np.zeros((S, S), np.uint16)
    edge[:, 4] = 1024
    _write(tmp_path, 'edge_occlusion', edge)
    return TaskonomyDataset(
        data_root=str(tmp_path), buildings=['bldA'],
        tasks=['depth', 'edge'],
        pipeline=[dict(type=LoadImageFromFile),
                  dict(type=LoadMultiTaskAnnotations)], **kwargs)


def test_log_normalised_depth(tmp_path):
    depth = _dataset(tmp_path, depth_units='log_normalised')[0]['gt_depth']
    # log(1 + 511) / log(2^16) = 9 / 16
    assert depth[1, 1] == pytest.approx(9 / 16, abs=1e-6)
    assert depth[0, 0] == 255  # 65535 is invalid: ignore


def test_metres_stay_the_default(tmp_path):
    results = _dataset(tmp_path)[0]
    assert results['gt_depth'][1, 1] == pytest.approx(511 / 512)
    np.testing.assert_array_equal(results['gt_edge'][0, 3:6], [0, 1, 0])


def test_edge_strength_unblurred_and_blurred(tmp_path):
    # 1024 / (0.00625 * 2^16) * 2 - 1 = 4; 0 -> -1; not clipped to [-1, 1]
    plain = _dataset(tmp_path, edge_target='strength',
                     edge_blur_sigma=0)[0]['gt_edge']
    np.testing.assert_allclose(plain[0, 3:6], [-1, 4, -1], atol=1e-6)
    blurred = _dataset(tmp_path, edge_target='strength')[0]['gt_edge']
    # a blur keeps the mean (reflecting borders) and spreads the line
    assert blurred.mean() == pytest.approx(plain.mean(), abs=1e-5)
    assert blurred[0, 4] < 4 and blurred[0, 0] > -1
    # sigma 1: the line's weight at distance 1 is exp(-1/2) of its centre
    sharp = _dataset(tmp_path, edge_target='strength',
                     edge_blur_sigma=1)[0]['gt_edge']
    lift = sharp[3] + 1  # strength above the background, per column
    assert lift[3] / lift[4] == pytest.approx(math.exp(-0.5), rel=0.02)


@pytest.mark.parametrize('kwargs,match', [
    (dict(depth_units='mm'), "unknown depth_units 'mm'; valid: metres, "
     'log_normalised'),
    (dict(edge_target='soft'), "unknown edge_target 'soft'; valid: binary, "
     'strength'),
    (dict(edge_blur_sigma=-1), 'edge_blur_sigma must be >= 0'),
])
def test_bad_options(tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        _dataset(tmp_path, **kwargs)


def test_view_order(tmp_path):
    folder = tmp_path / 'rgb' / 'taskonomy' / 'bldA'
    folder.mkdir(parents=True)
    for point in (1, 2, 10):
        Image.fromarray(np.zeros((S, S, 3), np.uint8)).save(
            folder / f'point_{point}_view_0_domain_rgb.png')

    def ids(**kwargs):
        dataset = TaskonomyDataset(data_root=str(tmp_path),
                                   buildings=['bldA'], tasks=[], **kwargs)
        return [dataset.get_data_info(i)['sample_id']
                for i in range(len(dataset))]

    assert ids() == ['bldA/point_1_view_0', 'bldA/point_2_view_0',
                     'bldA/point_10_view_0']
    # the reference's sorted file names: '0' sorts before '_'
    assert ids(view_order='filename') == [
        'bldA/point_10_view_0', 'bldA/point_1_view_0', 'bldA/point_2_view_0']
    with pytest.raises(ValueError, match="unknown view_order 'random'"):
        ids(view_order='random')
