"""SimulatedShift: photometric kinds change the image only, geometric ones
move image and every task map together."""
import numpy as np
import pytest

from s4t_mm.datasets.transforms import SimulatedShift
from s4t_mm.datasets.transforms.simulated_shift import GEOMETRIC, PHOTOMETRIC


def sample():
    """An 8x8 image whose columns count up, with maps that say where each
    pixel came from: semseg = row, depth = column + 1."""
    rows, cols = np.mgrid[0:8, 0:8]
    img = np.stack([cols * 30, rows * 30, np.full((8, 8), 100)], -1)
    normals = np.zeros((8, 8, 3), np.float32)
    normals[..., 2] = 1.0
    return dict(img=img.astype(np.uint8), tasks=['semseg', 'depth',
                                                 'normals'],
                gt_semseg=rows.astype(np.uint8),
                gt_depth=(cols + 1).astype(np.float32),
                gt_normals=normals, sample_idx=3,
                img_shape=(8, 8), ori_shape=(8, 8))


@pytest.mark.parametrize('kind,value', [('colour', 0.3), ('gamma', 1.5),
                                        ('brightness', 0.1),
                                        ('contrast', 0.5), ('blur', 1.0),
                                        ('noise', 0.05), ('jpeg', 20),
                                        ('overlay', 0.7)])
def test_photometric_kinds_change_the_image_only(kind, value):
    before = sample()
    after = SimulatedShift(kind, value)(sample())
    assert after['img'].shape == (8, 8, 3) and after['img'].dtype == np.uint8
    assert not np.array_equal(after['img'], before['img'])
    for key in ('gt_semseg', 'gt_depth', 'gt_normals'):
        assert np.array_equal(after[key], before[key])
    # the same sample is shifted the same way every time
    assert np.array_equal(SimulatedShift(kind, value)(sample())['img'],
                          after['img'])


def test_hand_computed_photometric_values():
    img = np.full((4, 4, 3), 100, np.uint8)
    out = SimulatedShift('brightness', 0.2)(dict(img=img.copy()))['img']
    assert (out == 151).all()  # 100/255 + 0.2, back to 0..255
    out = SimulatedShift('colour', 0.5)(dict(img=img.copy()))['img']
    assert out[0, 0].tolist() == [50, 100, 150]  # BGR gains 0.5, 1, 1.5


def test_crop_and_tilt_keep_the_pixel_scale():
    out = SimulatedShift('crop', 0.5)(sample())
    assert out['img'].shape[:2] == (4, 4) == out['img_shape']
    assert out['gt_semseg'][:, 0].tolist() == [2, 3, 4, 5]  # rows 2..5
    assert out['gt_depth'][0].tolist() == [3, 4, 5, 6]  # columns 2..5
    assert np.array_equal(out['img'], sample()['img'][2:6, 2:6])
    up = SimulatedShift('tilt', -0.25)(sample())  # the top 6 rows
    assert up['gt_semseg'][:, 0].tolist() == list(range(6))
    down = SimulatedShift('tilt', 0.5)(sample())  # the bottom 4
    assert down['gt_semseg'][:, 0].tolist() == [4, 5, 6, 7]


def test_zoom_resamples_maps_and_keeps_their_values():
    out = SimulatedShift('zoom', 2.0)(sample())
    assert out['img'].shape == (8, 8, 3)
    # the central half fills the image: rows / columns 2..5, each twice;
    # depth along a ray and camera-frame normals keep their values
    assert out['gt_semseg'][:, 0].tolist() == [2, 2, 3, 3, 4, 4, 5, 5]
    assert out['gt_depth'][0].tolist() == [3, 3, 4, 4, 5, 5, 6, 6]
    assert (out['gt_normals'][..., 2] == 1).all()
    shrunk = SimulatedShift('zoom_out', 0.5)(sample())
    assert shrunk['img'].shape == (8, 8, 3)
    assert (shrunk['gt_semseg'][:2] == 255).all()  # border: ignored
    # nearest to where the area resize samples: rows 1, 3, 5, 7
    assert shrunk['gt_semseg'][2:6, 2].tolist() == [1, 3, 5, 7]


def test_bad_kind_and_values():
    with pytest.raises(ValueError, match="unknown simulated shift 'fog'; "
                       'valid: colour'):
        SimulatedShift('fog', 1.0)
    with pytest.raises(ValueError, match='zoom needs value >= 1'):
        SimulatedShift('zoom', 0.5)(sample())
    with pytest.raises(ValueError, match='crop needs 0 < value <= 1'):
        SimulatedShift('crop', 1.5)(sample())
    assert set(GEOMETRIC) == {'zoom', 'zoom_out', 'crop', 'tilt'}
    assert 'overlay' in PHOTOMETRIC
