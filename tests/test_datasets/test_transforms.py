"""Multi-task loading, geometric and packing transforms.

Alignment is checked with a coordinate pattern: the image stores each
pixel's source (x, y) in channels 0 and 1, and every task map stores a value
computed from the same (x, y). After any chain of geometric transforms, each
labelled pixel's map values must decode to the (x, y) the image shows there.
"""
import io

import cv2
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from skimage.morphology import thin as skimage_thin

from s4t_mm.datasets.transforms.formatting import PackMultiTaskInputs
from s4t_mm.datasets.transforms.geometric import (MultiTaskPad,
                                                  MultiTaskRandomCrop,
                                                  MultiTaskRandomFlip,
                                                  MultiTaskRandomResize,
                                                  MultiTaskResize,
                                                  flip_task_map,
                                                  resize_nearest)
from s4t_mm.datasets.transforms.loading import (ANN_DECODERS,
                                                LoadMultiTaskAnnotations,
                                                thin_binary)
from s4t_mm.structures import MultiTaskDataSample
from s4t_mm.structures.task_maps import task_map_spec

K = 4  # image intensity per pixel of coordinate
TASKS = ['semseg', 'human_parts', 'depth', 'normals', 'edge']


def normal_at(x, y):
    """A unit normal that encodes (x, y); its x component grows with x."""
    n = np.stack([x - 20.0, y - 20.0, -np.full_like(x, 30.0)], axis=-1)
    return (n / np.linalg.norm(n, axis=-1, keepdims=True)).astype(np.float32)


def coordinate_results(h, w):
    """Image and task maps of an h x w view encoding pixel coordinates."""
    y, x = np.mgrid[:h, :w].astype(np.float32)
    img = np.stack([x * K, y * K, np.full_like(x, 100)], -1).astype(np.uint8)
    depth = (x + 1) * 0.5
    depth[h // 2:, :w // 3] = 255  # an ignore block
    edge = ((x + y) % 2).astype(np.float32)
    edge[:, -1] = 255
    normals = normal_at(x, y)
    normals[:h // 3, w // 2:] = 255
    semseg = x.astype(np.uint8)
    semseg[0, 0] = 255
    return dict(
        img=img,
        img_shape=(h, w),
        ori_shape=(h, w),
        tasks=list(TASKS),
        gt_semseg=semseg,
        gt_human_parts=y.astype(np.uint8),
        gt_depth=depth.astype(np.float32),
        gt_normals=normals,
        gt_edge=edge)


def assert_aligned(results, flipped=False, tol=0.5 + 1.0 / K + 0.05):
    """Every labelled map pixel agrees with the coordinates in the image."""
    img = results['img'].astype(np.float32)
    src_x = results['gt_semseg'].astype(np.float32)
    src_y = results['gt_human_parts'].astype(np.float32)
    labelled = (results['gt_human_parts'] != 255) & (src_x != 255)
    assert labelled.any()
    # the image is resized bilinearly, the maps by nearest neighbour: the
    # coordinates agree to within half a source pixel (+ uint8 rounding)
    assert np.abs(img[..., 0] / K - src_x)[labelled].max() <= tol
    assert np.abs(img[..., 1] / K - src_y)[labelled].max() <= tol

    depth = results['gt_depth']
    d_ok = labelled & (depth != 255)
    np.testing.assert_allclose(depth[d_ok], (src_x[d_ok] + 1) * 0.5)
    edge = results['gt_edge']
    e_ok = labelled & (edge != 255)
    np.testing.assert_array_equal(edge[e_ok], (src_x + src_y)[e_ok] % 2)
    normals = results['gt_normals']
    n_ok = labelled & (normals != 255).all(-1)
    expected = normal_at(src_x, src_y)
    if flipped:
        expected[..., 0] *= -1
    np.testing.assert_allclose(normals[n_ok], expected[n_ok], atol=1e-6)


def assert_ignore_preserved(results):
    """Maps hold only valid values or the exact ignore value (no blends)."""
    depth = results['gt_depth']
    valid = depth != 255
    assert np.all(np.isin(depth[valid], (np.arange(64) + 1) * 0.5))
    assert set(np.unique(results['gt_edge'])) <= {0.0, 1.0, 255.0}
    normals = results['gt_normals']
    ignored = (normals == 255).all(-1)
    assert not ((normals == 255).any(-1) & ~ignored).any()
    np.testing.assert_allclose(
        np.linalg.norm(normals[~ignored], axis=-1), 1.0, atol=1e-5)


def copy_results(results):
    return {
        k: v.copy() if isinstance(v, np.ndarray) else v
        for k, v in results.items()
    }


class TestResize:

    def test_fixed_scale_aligns_maps(self):
        results = MultiTaskResize(scale=(24, 18))(coordinate_results(12, 16))
        assert results['img'].shape[:2] == (18, 24)
        assert results['img_shape'] == (18, 24)
        assert results['scale_factor'] == (1.5, 1.5)
        for task in TASKS:
            assert results[f'gt_{task}'].shape[:2] == (18, 24)
        assert_aligned(results)
        assert_ignore_preserved(results)

    def test_keep_ratio(self):
        results = MultiTaskResize(
            scale=(40, 8), keep_ratio=True)(coordinate_results(16, 20))
        # the long side may reach 40, the short side 8: 16x20 -> 8x10
        assert results['img_shape'] == (8, 10)
        assert results['gt_normals'].shape == (8, 10, 3)
        assert results['keep_ratio'] is True
        assert_aligned(results)

    def test_random_resize_ratio_range(self):
        np.random.seed(0)
        transform = MultiTaskRandomResize(
            scale=(20, 16), ratio_range=(0.5, 2.0))
        results = transform(coordinate_results(16, 20))
        h, w = results['img_shape']
        assert 8 <= h <= 32 and 10 <= w <= 40
        assert results['gt_depth'].shape == (h, w)
        assert_aligned(results)

    def test_resize_nearest_is_centred(self):
        x = np.arange(4)[None].repeat(2, 0)
        np.testing.assert_array_equal(
            resize_nearest(x, (2, 8))[0], [0, 0, 1, 1, 2, 2, 3, 3])
        np.testing.assert_array_equal(resize_nearest(x, (1, 2))[0], [1, 3])


class TestCrop:

    def test_crop_cuts_same_window_everywhere(self):
        original = coordinate_results(16, 20)
        np.random.seed(3)
        results = MultiTaskRandomCrop(crop_size=(8, 12))(
            copy_results(original))
        y1, y2, x1, x2 = results['crop_bbox']
        assert (y2 - y1, x2 - x1) == (8, 12)
        assert results['img_shape'] == (8, 12)
        for task in TASKS:
            np.testing.assert_array_equal(results[f'gt_{task}'],
                                          original[f'gt_{task}'][y1:y2,
                                                                 x1:x2])
        np.testing.assert_array_equal(results['img'],
                                      original['img'][y1:y2, x1:x2])

    def test_crop_larger_than_image_keeps_image(self):
        results = MultiTaskRandomCrop(crop_size=32)(coordinate_results(8, 10))
        assert results['img_shape'] == (8, 10)


class TestFlip:

    def test_flip_twice_is_identity(self):
        original = coordinate_results(9, 14)
        flip = MultiTaskRandomFlip(prob=1.0)
        results = flip(flip(copy_results(original)))
        for key in ['img'] + [f'gt_{t}' for t in TASKS]:
            np.testing.assert_array_equal(results[key], original[key])

    def test_flip_negates_normals_x_and_keeps_ignore(self):
        original = coordinate_results(9, 14)
        results = MultiTaskRandomFlip(prob=1.0)(copy_results(original))
        assert results['flip'] is True
        assert results['flip_direction'] == 'horizontal'
        mirrored = original['gt_normals'][:, ::-1]
        ignored = (mirrored == 255).all(-1)
        np.testing.assert_array_equal(results['gt_normals'][ignored], 255)
        np.testing.assert_array_equal(results['gt_normals'][~ignored],
                                      mirrored[~ignored] * [-1, 1, 1])
        np.testing.assert_array_equal(results['gt_depth'],
                                      original['gt_depth'][:, ::-1])
        assert_aligned(results, flipped=True)

    def test_no_flip(self):
        results = MultiTaskRandomFlip(prob=0.0)(coordinate_results(4, 4))
        assert results['flip'] is False
        assert results['flip_direction'] is None

    def test_vertical_is_refused(self):
        with pytest.raises(ValueError, match='horizontal'):
            MultiTaskRandomFlip(prob=0.5, direction='vertical')


class TestPad:

    def test_pad_uses_per_task_ignore_values(self):
        results = MultiTaskPad(size_divisor=8)(coordinate_results(13, 10))
        assert results['img'].shape[:2] == (16, 16)
        assert results['pad_shape'][:2] == (16, 16)
        assert results['img_shape'] == (16, 16)
        assert (results['img'][13:] == 0).all()
        assert (results['img'][:, 10:] == 0).all()
        for task in TASKS:
            gt = results[f'gt_{task}']
            assert gt.shape[:2] == (16, 16)
            assert (gt[13:] == 255).all() and (gt[:, 10:] == 255).all()
        assert results['gt_semseg'].dtype == np.uint8
        assert_aligned(results)

    def test_pad_to_fixed_size(self):
        results = MultiTaskPad(size=(12, 20))(coordinate_results(13, 10))
        assert results['gt_normals'].shape == (20, 12, 3)


class TestPack:

    def test_pack_dtypes_shapes_and_meta(self):
        results = coordinate_results(6, 5)
        results.update(
            img_path='a.png',
            domain='nyud',
            sample_idx=3,
            flip=False,
            flip_direction=None,
            scale_factor=(1.0, 1.0),
            gt_saliency=np.ones((6, 5), np.float32))
        results['tasks'].append('saliency')
        packed = PackMultiTaskInputs()(results)
        assert packed['inputs'].shape == (3, 6, 5)
        assert packed['inputs'].dtype == torch.uint8
        assert torch.equal(packed['inputs'][0],
                           torch.from_numpy(results['img'][..., 0]))
        sample = packed['data_samples']
        assert isinstance(sample, MultiTaskDataSample)
        assert sample.gt_tasks == sorted(TASKS + ['saliency'])
        for task in ('semseg', 'human_parts'):
            assert sample.gt(task).dtype == torch.long
            assert sample.gt(task).shape == (1, 6, 5)
        for task in ('depth', 'edge', 'saliency'):
            assert sample.gt(task).dtype == torch.float32
            assert sample.gt(task).shape == (1, 6, 5)
        normals = sample.gt('normals')
        assert normals.shape == (3, 6, 5) and normals.dtype == torch.float32
        np.testing.assert_array_equal(normals.permute(1, 2, 0).numpy(),
                                      results['gt_normals'])
        assert sample.gt('semseg')[0, 0, 0] == 255
        assert sample.metainfo['domain'] == 'nyud'
        assert sample.metainfo['sample_idx'] == 3
        assert sample.metainfo['img_path'] == 'a.png'
        assert 'pad_shape' not in sample.metainfo

    def test_pack_rejects_wrong_channel_count(self):
        results = coordinate_results(4, 4)
        results['gt_normals'] = results['gt_normals'][..., :2]
        with pytest.raises(ValueError, match='gt_normals has 2 channels'):
            PackMultiTaskInputs()(results)


def _png_bytes(array):
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format='PNG')
    return buf.getvalue()


class TestLoadMultiTaskAnnotations:

    def _write(self, tmp_path, name, array):
        path = tmp_path / name
        path.write_bytes(_png_bytes(array))
        return str(path)

    def test_decodes_with_declared_formats(self, tmp_path):
        seg = self._write(tmp_path, 'seg.png',
                          np.array([[0, 1], [40, 255]], np.uint8))
        sal = self._write(tmp_path, 'sal.png',
                          np.array([[127, 128], [0, 255]], np.uint8))
        np.save(tmp_path / 'd.npy', np.array([[0, 1.5], [2, np.nan]]))
        results = dict(
            img=np.zeros((2, 2, 3), np.uint8),
            ann_paths=dict(
                semseg=seg, saliency=sal, depth=str(tmp_path / 'd.npy')),
            ann_decoders=dict(
                semseg=dict(type='class_png', reduce_zero_label=True),
                saliency=dict(type='binary_png', threshold=127),
                depth=dict(type='depth_npy')))
        results = LoadMultiTaskAnnotations()(results)
        assert results['tasks'] == ['semseg', 'saliency', 'depth']
        np.testing.assert_array_equal(results['gt_semseg'],
                                      [[255, 0], [39, 255]])
        np.testing.assert_array_equal(results['gt_saliency'],
                                      [[0, 1], [0, 1]])
        np.testing.assert_array_equal(results['gt_depth'],
                                      [[255, 1.5], [2, 255]])
        assert results['gt_depth'].dtype == np.float32

    def test_task_subset_and_override(self, tmp_path):
        seg = self._write(tmp_path, 'seg.png', np.array([[3]], np.uint8))
        results = dict(
            ann_paths=dict(semseg=seg, edge=seg),
            ann_decoders=dict(semseg=dict(type='class_png')))
        load = LoadMultiTaskAnnotations(
            tasks=['semseg'],
            decoders=dict(semseg=dict(type='class_png', label_map={3: 0})))
        results = load(results)
        assert results['tasks'] == ['semseg'] and 'gt_edge' not in results
        assert results['gt_semseg'][0, 0] == 0

    def test_missing_file_is_named(self, tmp_path):
        path = str(tmp_path / 'nope.png')
        results = dict(
            ann_paths=dict(edge=path),
            ann_decoders=dict(edge=dict(type='binary_png')))
        with pytest.raises(FileNotFoundError, match='nope.png'):
            LoadMultiTaskAnnotations()(results)

    @pytest.mark.parametrize('payload', ['truncated', 'garbage'])
    def test_undecodable_file_is_named(self, tmp_path, payload):
        data = _png_bytes(np.random.RandomState(0).randint(
            0, 255, (32, 32, 3), dtype=np.uint8))
        data = data[:len(data) // 2] if payload == 'truncated' else b'xyz'
        path = tmp_path / f'{payload}.png'
        path.write_bytes(data)
        results = dict(
            ann_paths=dict(normals=str(path)),
            ann_decoders=dict(normals=dict(type='normals_png')))
        with pytest.raises(ValueError, match=f'{payload}.png'):
            LoadMultiTaskAnnotations()(results)

    def test_unknown_format_lists_registered(self, tmp_path):
        results = dict(
            ann_paths=dict(edge='x.png'),
            ann_decoders=dict(edge=dict(type='edge_jpg')))
        with pytest.raises(KeyError, match='binary_png'):
            LoadMultiTaskAnnotations()(results)

    def test_size_mismatch(self, tmp_path):
        seg = self._write(tmp_path, 'seg.png', np.ones((2, 2), np.uint8))
        results = dict(
            img=np.zeros((4, 4, 3), np.uint8),
            ann_paths=dict(semseg=seg),
            ann_decoders=dict(semseg=dict(type='class_png')))
        with pytest.raises(ValueError, match='seg.png'):
            LoadMultiTaskAnnotations()(copy_results(results))
        results = LoadMultiTaskAnnotations(resize_to_image=True)(results)
        np.testing.assert_array_equal(results['gt_semseg'], 1)
        assert results['gt_semseg'].shape == (4, 4)

    def test_decoders_are_registered(self):
        assert {
            'class_png', 'depth_npy', 'depth_png', 'normals_png',
            'binary_png', 'label_boundary_mat', 'pascal_parts_mat'
        } <= set(ANN_DECODERS)


# --- properties -------------------------------------------------------------

shapes = st.tuples(st.integers(4, 24), st.integers(4, 24))


@settings(max_examples=20, deadline=None)
@given(
    shape=shapes,
    scale=st.tuples(st.integers(4, 40), st.integers(4, 40)),
    crop=st.tuples(st.integers(2, 30), st.integers(2, 30)),
    flip=st.booleans(),
    divisor=st.integers(1, 8),
    seed=st.integers(0, 2**16))
def test_chain_keeps_alignment_ignore_and_unit_normals(shape, scale, crop,
                                                       flip, divisor, seed):
    np.random.seed(seed)
    results = coordinate_results(*shape)
    for transform in (MultiTaskResize(scale=scale),
                      MultiTaskRandomCrop(crop_size=crop),
                      MultiTaskRandomFlip(prob=float(flip)),
                      MultiTaskPad(size_divisor=divisor)):
        results = transform(results)
        shape_now = results['img'].shape[:2]
        for task in TASKS:
            assert results[f'gt_{task}'].shape[:2] == shape_now
    assert_ignore_preserved(results)
    assert results['img_shape'][0] % divisor == 0
    assert results['img_shape'][1] % divisor == 0
    # pixels that came from padding are ignore in every map
    pad = (results['img'][..., 2] == 0)
    for task in TASKS:
        assert (results[f'gt_{task}'][pad] == 255).all()
    labelled = (results['gt_semseg'] != 255) & ~pad
    if labelled.any():
        assert_aligned(results, flipped=flip)


@settings(max_examples=20, deadline=None)
@given(
    shape=shapes,
    seed=st.integers(0, 2**16))
def test_flip_twice_is_identity_for_random_maps(shape, seed):
    rng = np.random.RandomState(seed)
    h, w = shape
    normals = rng.randn(h, w, 3).astype(np.float32)
    normals /= np.linalg.norm(normals, axis=-1, keepdims=True)
    normals[rng.rand(h, w) < 0.3] = 255
    results = dict(
        img=rng.randint(0, 255, (h, w, 3), dtype=np.uint8),
        tasks=['normals', 'semseg'],
        gt_normals=normals,
        gt_semseg=rng.randint(0, 256, (h, w)).astype(np.uint8))
    original = copy_results(results)
    flip = MultiTaskRandomFlip(prob=1.0)
    once = flip(results)
    labelled = ~(once['gt_normals'] == 255).all(-1)
    np.testing.assert_allclose(
        np.linalg.norm(once['gt_normals'][labelled], axis=-1), 1, atol=1e-5)
    twice = flip(once)
    for key in ('img', 'gt_normals', 'gt_semseg'):
        np.testing.assert_array_equal(twice[key], original[key])


# --- fast paths: bit for bit their plain numpy definitions ------------------
# The decoders and geometric helpers look values up in tables and gather rows
# and columns in two 1-D steps for speed (bench/bench_data_pipeline.py); each
# test compares one with the plain numpy code it replaced, byte for byte.

def assert_same_bytes(actual, expected):
    assert actual.dtype == expected.dtype
    assert actual.shape == expected.shape
    assert actual.tobytes() == expected.tobytes()


def normals_by_definition(raw, signs, zero_is_ignore, min_norm=0.5):
    raw = raw[..., :3]
    normals = (raw.astype(np.float32) * (2 / 255) - 1) * np.asarray(
        signs, dtype=np.float32)
    norm = np.linalg.norm(normals, axis=2, keepdims=True)
    invalid = norm[..., 0] < min_norm
    if zero_is_ignore:
        invalid |= (raw == 0).all(axis=2)
    normals = normals / np.maximum(norm, 1e-6)
    normals[invalid] = 255
    return normals


@pytest.mark.parametrize('signs', [(1., 1., 1.), (-1., -1., -1.),
                                   (1., -1., 0.5)])
@pytest.mark.parametrize('zero_is_ignore', [False, True])
@pytest.mark.parametrize('channels', [3, 4])
def test_normals_png_equals_its_definition(signs, zero_is_ignore, channels):
    raw = np.random.default_rng(0).integers(
        0, 256, (64, 96, channels), dtype=np.uint8)
    raw[0, 0, :3] = 0  # all zero: n = -(1, 1, 1) / sqrt(3), or ignore
    raw[0, 1, :3] = 128  # grey: |n| < 0.5, ignore
    raw[0, 2, :3] = (255, 128, 128)  # n = (1, 0, 0) * signs
    decoded = ANN_DECODERS['normals_png'](
        _png_bytes(raw), signs=signs, zero_is_ignore=zero_is_ignore)
    assert_same_bytes(decoded,
                      normals_by_definition(raw, signs, zero_is_ignore))
    if zero_is_ignore:
        np.testing.assert_array_equal(decoded[0, 0], 255)
    else:
        np.testing.assert_allclose(
            decoded[0, 0], -np.array(signs) / np.linalg.norm(signs),
            atol=1e-6)
    np.testing.assert_array_equal(decoded[0, 1], 255)
    np.testing.assert_allclose(decoded[0, 2, 0], np.sign(signs[0]),
                               atol=1e-4)


def class_ids_by_definition(raw, reduce_zero_label, label_map):
    labels = raw.astype(np.int64)
    if reduce_zero_label:
        ignore = (raw == 0) | (raw == 255)
        labels -= 1
        labels[ignore] = 255
    if label_map is not None:
        lut = np.full(max(int(labels.max()), max(label_map)) + 1, 255,
                      np.uint8)
        for source, target in label_map.items():
            lut[source] = target
        return lut[labels]
    return labels.astype(np.uint8) if labels.max() <= 255 else labels


@pytest.mark.parametrize('reduce_zero_label', [False, True])
@pytest.mark.parametrize('label_map', [None, {0: 1, 5: 0, 39: 2}])
def test_class_png_equals_its_definition(reduce_zero_label, label_map):
    raw = np.arange(256, dtype=np.uint8).reshape(16, 16)  # every byte
    decoded = ANN_DECODERS['class_png'](
        _png_bytes(raw), reduce_zero_label=reduce_zero_label,
        label_map=label_map)
    assert_same_bytes(
        decoded, class_ids_by_definition(raw, reduce_zero_label, label_map))
    shifted = 1 if reduce_zero_label else 0
    assert decoded[0, shifted] == (1 if label_map else 0)
    assert decoded[15, 15] == 255
    if reduce_zero_label:
        assert decoded[0, 0] == 255


def test_class_png_keeps_16_bit_ids():
    raw = np.array([[0, 1], [300, 65535]], np.uint16)
    decoded = ANN_DECODERS['class_png'](_png_bytes(raw))
    assert decoded.dtype == np.int64
    np.testing.assert_array_equal(decoded, [[0, 1], [300, 65535]])


@settings(max_examples=30, deadline=None)
@given(
    shape=st.tuples(st.integers(1, 30), st.integers(1, 30)),
    size=st.tuples(st.integers(1, 50), st.integers(1, 50)),
    channels=st.sampled_from([None, 1, 3]),
    dtype=st.sampled_from([np.uint8, np.float32, np.int64]))
def test_resize_nearest_equals_a_broadcast_index(shape, size, channels,
                                                 dtype):
    full = shape if channels is None else shape + (channels, )
    array = np.random.default_rng(0).integers(0, 200, full).astype(dtype)
    # the index rule as the code before the gathers rounded it: the scale
    # first, (i + 0.5) * (H / h); (i + 0.5) * H / h rounds differently
    rows = np.minimum(((np.arange(size[0]) + 0.5) *
                       (shape[0] / size[0])).astype(int), shape[0] - 1)
    cols = np.minimum(((np.arange(size[1]) + 0.5) *
                       (shape[1] / size[1])).astype(int), shape[1] - 1)
    assert_same_bytes(resize_nearest(array, size),
                      array[rows[:, None], cols[None, :]])


def test_flip_equals_its_definition_with_signed_zeros_and_nan():
    rng = np.random.default_rng(1)
    normals = rng.standard_normal((20, 30, 3)).astype(np.float32)
    normals[rng.random((20, 30)) < 0.3] = 255
    normals[0, 0] = (0.0, 1.0, 0.0)
    normals[0, 1] = (-0.0, 1.0, 0.0)
    normals[0, 2] = (np.nan, 255, 255)
    normals[0, 3] = (255, 255, 0.5)  # partly 255: labelled
    spec = task_map_spec('normals')
    expected = np.ascontiguousarray(normals[:, ::-1])
    labelled = ~(expected == 255).all(axis=-1)
    expected[labelled, 0] = -expected[labelled, 0]
    flipped = flip_task_map(normals, spec)
    assert_same_bytes(flipped, expected)
    np.testing.assert_array_equal(flipped[0, -4], (-255, 255, 0.5))
    assert np.signbit(flipped[0, -1, 0]) and not np.signbit(flipped[0, -2,
                                                                    0])


@settings(max_examples=60, deadline=None)
@given(
    shape=st.tuples(st.integers(1, 40), st.integers(1, 40)),
    density=st.floats(0, 1),
    seed=st.integers(0, 2**16))
def test_thin_binary_equals_scikit_image(shape, density, seed):
    mask = np.random.default_rng(seed).random(shape) < density
    assert_same_bytes(thin_binary(mask), skimage_thin(mask))


def test_thin_binary_on_label_boundaries():
    labels = np.zeros((30, 40))
    labels[5:25, 8:30] = 7
    labels[12:18, 15:22] = 300
    labels[:, 35:] = 2
    edge = np.abs(cv2.Laplacian(labels, cv2.CV_64F)) > 0
    thinned = thin_binary(edge)
    assert_same_bytes(thinned, skimage_thin(edge))
    # the two-pixel boundary of the column split becomes one pixel wide
    # (thinning may shorten its ends)
    assert (edge[:, 34:36].sum(axis=1) == 2).all()
    assert (thinned[:, 34:36].sum(axis=1) <= 1).all()
    assert thinned[:, 34:36].sum() >= 28
    assert not (thinned & ~edge).any()
