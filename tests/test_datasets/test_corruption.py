import numpy as np
import pytest
from imagecorruptions import corrupt

from s4t_mm.datasets.transforms.corruption import CORRUPTIONS, ImageCorruption
from s4t_mm.registry import TRANSFORMS


def results(sample_idx=0, size=32):
    rng = np.random.default_rng(0)
    # smooth colour ramps plus texture, so blurs and noise all show
    ramp = np.linspace(40, 215, size)
    img = np.stack([
        np.add.outer(ramp, ramp) / 2,
        np.tile(ramp, (size, 1)),
        np.full((size, size), 90.0)
    ], -1) + rng.normal(0, 20, (size, size, 3))
    return dict(img=np.clip(img, 0, 255).astype(np.uint8),
                sample_idx=sample_idx)


def test_the_fifteen_imagenet_c_corruptions():
    assert len(CORRUPTIONS) == 15
    assert {'gaussian_noise', 'glass_blur', 'frost', 'jpeg_compression'
            } <= set(CORRUPTIONS)
    assert 'speckle_noise' not in CORRUPTIONS


@pytest.mark.parametrize('name', CORRUPTIONS)
def test_every_corruption_changes_the_image_deterministically(name):
    transform = ImageCorruption(corruption=name, severity=5)
    original = results()
    out = transform(results())['img']
    assert out.shape == original['img'].shape and out.dtype == np.uint8
    assert not np.array_equal(out, original['img'])
    np.testing.assert_array_equal(out, transform(results())['img'])


def test_input_is_bgr():
    # brightness works in HSV, so a channel mix-up would change the result
    bgr = results()
    transform = ImageCorruption(corruption='brightness', severity=3)
    out = transform(dict(bgr))['img']
    seed = int(np.random.SeedSequence([0, 0]).generate_state(1)[0])
    np.random.seed(seed)
    expected = corrupt(
        np.ascontiguousarray(bgr['img'][..., ::-1]),
        severity=3,
        corruption_name='brightness')[..., ::-1]
    np.testing.assert_array_equal(out, expected)


def test_samples_and_seeds_draw_different_noise():
    transform = ImageCorruption(corruption='gaussian_noise', severity=2)
    a = transform(results(0))['img']
    b = transform(results(1))['img']
    c = ImageCorruption('gaussian_noise', 2, seed=1)(results(0))['img']
    assert not np.array_equal(a, b) and not np.array_equal(a, c)


def test_global_random_state_is_restored():
    np.random.seed(123)
    expected = np.random.rand()
    np.random.seed(123)
    ImageCorruption(corruption='shot_noise', severity=1)(results())
    assert np.random.rand() == expected


def test_builds_from_the_registry():
    transform = TRANSFORMS.build(
        dict(type='ImageCorruption', corruption='fog', severity=2))
    assert isinstance(transform, ImageCorruption)
    assert 'fog' in repr(transform)


def test_bad_arguments_name_valid_choices():
    with pytest.raises(ValueError, match="'fgo'.*gaussian_noise.*fog"):
        ImageCorruption(corruption='fgo', severity=1)
    with pytest.raises(ValueError, match=r'severity.*\(1, 2, 3, 4, 5\).*6'):
        ImageCorruption(corruption='fog', severity=6)
    with pytest.raises(ValueError, match='severity'):
        ImageCorruption(corruption='fog', severity=2.5)
    with pytest.raises(ValueError, match='H, W >= 32'):
        ImageCorruption(corruption='fog', severity=1)(results(size=16))
