import pytest
import torch

from s4t_mm.registry import MODELS
from s4t_mm.structures import MultiTaskDataSample


def _sample(h, w):
    s = MultiTaskDataSample(metainfo=dict(img_path=f'img_{h}x{w}.png'))
    s.set_gt('semseg', torch.zeros(1, h, w, dtype=torch.long))
    s.set_gt('depth', torch.full((1, h, w), 2.0))
    s.set_gt('normals', torch.zeros(3, h, w))
    return s


def test_pads_images_and_each_task_with_its_ignore_value():
    pre = MODELS.build(dict(type='MultiTaskDataPreprocessor', mean=[0.0] * 3,
                            std=[2.0] * 3, bgr_to_rgb=True, size_divisor=8,
                            task_pad_vals=dict(depth=0.0)))
    img_a = torch.zeros(3, 5, 6, dtype=torch.uint8)
    img_a[2] = 4  # the B channel of BGR
    img_b = torch.zeros(3, 7, 3, dtype=torch.uint8)
    out = pre(dict(inputs=[img_a, img_b],
                   data_samples=[_sample(5, 6), _sample(7, 3)]))
    batch, samples = out['inputs'], out['data_samples']
    assert batch.shape == (2, 3, 8, 8)
    assert batch[0, 0, 0, 0] == 2.0  # B moved first (RGB), divided by std
    s = samples[1]
    assert s.img_shape == (7, 3) and s.pad_shape == (8, 8)
    assert s.gt('semseg')[0, :7, :3].eq(0).all()
    assert s.gt('semseg')[0, :, 3:].eq(255).all()
    assert s.gt('semseg')[0, 7:, :].eq(255).all()
    assert s.gt('depth')[0, :, 3:].eq(0.0).all()  # overridden pad value
    assert s.gt('normals')[:, 7, :].eq(255.0).all()


def test_non_finite_input_is_rejected_with_the_image_path():
    pre = MODELS.build(dict(type='MultiTaskDataPreprocessor'))
    img = torch.zeros(3, 4, 4)
    img[1, 2, 2] = float('nan')
    with pytest.raises(ValueError, match=r'input image 0 of the batch '
                       r'\(img_4x4.png\) has NaN or infinite values'):
        pre(dict(inputs=[img], data_samples=[_sample(4, 4)]))


def test_mean_without_std_is_rejected():
    with pytest.raises(ValueError, match='mean and std must be given'):
        MODELS.build(dict(type='MultiTaskDataPreprocessor', mean=[0.0] * 3))


def test_maps_at_another_size_than_their_image_are_left_as_they_are():
    """A test pipeline that resampled the image (CanonicalCamera) keeps the
    labels at the original size: they are scored there, not padded."""
    pre = MODELS.build(dict(type='MultiTaskDataPreprocessor'))
    img_a = torch.zeros(3, 5, 6)  # resampled from 10 x 12
    img_b = torch.zeros(3, 7, 3)
    out = pre(dict(inputs=[img_a, img_b],
                   data_samples=[_sample(10, 12), _sample(7, 3)]))
    small, padded = out['data_samples']
    assert out['inputs'].shape == (2, 3, 7, 6)
    assert small.gt('depth').shape == (1, 10, 12)
    assert small.gt('depth').eq(2.0).all() and small.img_shape == (5, 6)
    assert padded.gt('depth').shape == (1, 7, 6)
