"""Reading any image into uint8 BGR, and raw predictions written and read
back."""
import numpy as np
import pytest

from s4t_mm.apis.inference_io import (UnreadableImage, raw_encoding,
                                      read_raw, to_bgr_uint8, write_raw)


def test_conversions_to_bgr_uint8():
    gray16 = np.array([[0, 65535], [257, 32896]], np.uint16)
    image, note = to_bgr_uint8(gray16)
    assert note == 'uint16 gray' and image.shape == (2, 2, 3)
    np.testing.assert_array_equal(image[..., 0], [[0, 255], [1, 128]])
    rgba = np.zeros((2, 3, 4), np.uint8)
    rgba[..., 0], rgba[..., 3] = 200, 7  # red, nearly transparent
    image, note = to_bgr_uint8(rgba, channel_order='rgb')
    assert note == 'uint8 rgba'
    np.testing.assert_array_equal(image[0, 0], [0, 0, 200])
    image, note = to_bgr_uint8(np.full((2, 2, 3), 0.5, np.float32))
    assert note == 'float32 bgr' and (image == 128).all()
    image, note = to_bgr_uint8(np.zeros((2, 2, 3), np.uint8))
    assert note is None
    with pytest.raises(UnreadableImage, match='NaN'):
        to_bgr_uint8(np.full((2, 2), np.nan))
    with pytest.raises(UnreadableImage, match=r'got shape \(2, 2, 5\)'):
        to_bgr_uint8(np.zeros((2, 2, 5), np.uint8))


@pytest.mark.parametrize('raw_format', ['png', 'npy'])
def test_raw_predictions_read_back(tmp_path, raw_format):
    rng = np.random.default_rng(0)
    normals = rng.normal(size=(3, 5, 7))
    normals /= np.linalg.norm(normals, axis=0)
    maps = dict(semseg=rng.integers(0, 40, (1, 5, 7)),
                depth=rng.uniform(0.1, 20, (1, 5, 7)),
                normals=normals, edge=rng.uniform(0, 1, (1, 5, 7)))
    for task, data in maps.items():
        path = write_raw(str(tmp_path / task), task, data, raw_format)
        values = read_raw(path, raw_encoding(task, raw_format))
        expected = data[0] if data.shape[0] == 1 else data.transpose(1, 2, 0)
        np.testing.assert_allclose(values, expected, atol=1e-3)
