"""NYUDMultiTaskDataset on a tiny fixture in the on-disk layout."""
import numpy as np
import pytest
from mmcv.transforms import LoadImageFromFile
from PIL import Image

from s4t_mm.datasets.nyud_multi_task import NYUDMultiTaskDataset
from s4t_mm.datasets.transforms.formatting import PackMultiTaskInputs
from s4t_mm.datasets.transforms.loading import LoadMultiTaskAnnotations
from s4t_mm.registry import DATASETS

H, W = 8, 12


def write_nyud(root):
    """Two samples: 'a' with a .png image, 'b' with a .jpg image."""
    for folder in ('images', 'segmentation', 'depth', 'normals', 'edge',
                   'gt_sets'):
        (root / folder).mkdir(parents=True)
    for i, (sample_id, ext) in enumerate([('a', '.png'), ('b', '.jpg')]):
        img = np.full((H, W, 3), 40 * (i + 1), np.uint8)
        img[:, :, 0] = 200  # red in RGB
        Image.fromarray(img).save(root / 'images' / f'{sample_id}{ext}')
        seg = np.zeros((H, W), np.uint8)
        seg[0, :4] = [1, 24, 5, 40]  # wall, refrigerator, chair, otherprop
        Image.fromarray(seg).save(root / 'segmentation' / f'{sample_id}.png')
        depth = np.full((H, W), 2.5, np.float32)
        depth[1, 1] = 0  # invalid
        np.save(root / 'depth' / f'{sample_id}.npy', depth)
        normals = np.zeros((H, W, 3), np.uint8)  # all-zero = invalid
        normals[2:] = (128, 128, 0)  # n = (0, 0, -1)
        normals[2, 0] = (255, 128, 128)  # n = (1, 0, 0)
        Image.fromarray(normals).save(root / 'normals' / f'{sample_id}.png')
        edge = np.zeros((H, W), np.uint8)
        edge[3] = 255
        edge[4, 0] = 1
        Image.fromarray(edge).save(root / 'edge' / f'{sample_id}.png')
    (root / 'gt_sets' / 'val.txt').write_text('a\nb\n')


PIPELINE = [
    dict(type=LoadImageFromFile),
    dict(type=LoadMultiTaskAnnotations),
]


def test_layout_and_decoding(tmp_path):
    write_nyud(tmp_path)
    dataset = NYUDMultiTaskDataset(data_root=str(tmp_path), pipeline=PIPELINE)
    assert len(dataset) == 2
    assert dataset.metainfo['classes'][0] == 'wall'
    assert len(dataset.metainfo['classes']) == 40
    assert dataset[1]['img_path'].endswith('b.jpg')

    results = dataset[0]
    assert results['domain'] == 'nyud' and results['sample_id'] == 'a'
    assert results['tasks'] == ['semseg', 'depth', 'normals', 'edge']
    assert results['img'].shape == (H, W, 3)
    assert results['img'][0, 0, 2] == 200  # loaded as BGR
    np.testing.assert_array_equal(results['gt_semseg'][0, :5],
                                  [0, 23, 4, 39, 255])
    depth = results['gt_depth']
    assert depth.dtype == np.float32
    assert depth[1, 1] == 255 and depth[0, 0] == 2.5
    normals = results['gt_normals']
    assert (normals[:2] == 255).all()
    np.testing.assert_allclose(normals[3, 3], [0, 0, -1], atol=0.01)
    np.testing.assert_allclose(normals[2, 0], [1, 0, 0], atol=0.01)
    np.testing.assert_allclose(
        np.linalg.norm(normals[2:], axis=-1), 1, atol=1e-5)
    edge = results['gt_edge']
    assert edge[3].all() and edge[4, 0] == 1 and edge[5].sum() == 0


def test_shared_label_map_and_packing(tmp_path):
    write_nyud(tmp_path)
    dataset = DATASETS.build(
        dict(
            type='NYUDMultiTaskDataset',
            data_root=str(tmp_path),
            tasks=['semseg', 'depth'],
            label_map='nyud_taskonomy',
            pipeline=PIPELINE + [dict(type=PackMultiTaskInputs)]))
    assert dataset.metainfo['classes'] == ('refrigerator', 'table', 'toilet',
                                           'sofa', 'bed', 'sink', 'chair')
    sample = dataset[0]['data_samples']
    assert sample.gt_tasks == ['depth', 'semseg']
    # wall -> ignore, refrigerator -> 0, chair -> 6, otherprop -> ignore
    assert sample.gt('semseg')[0, 0, :4].tolist() == [255, 0, 6, 255]
    assert sample.metainfo['domain'] == 'nyud'
    assert sample.metainfo['sample_idx'] == 0


def test_missing_root_names_path_and_layout(tmp_path):
    root = tmp_path / 'no_nyud'
    with pytest.raises(FileNotFoundError) as err:
        NYUDMultiTaskDataset(data_root=str(root))
    assert str(root) in str(err.value)
    assert 'segmentation/<id>.png' in str(err.value)


def test_missing_file_is_named(tmp_path):
    write_nyud(tmp_path)
    (tmp_path / 'depth' / 'b.npy').unlink()
    with pytest.raises(FileNotFoundError, match='b.npy'):
        NYUDMultiTaskDataset(data_root=str(tmp_path))
    # not requested -> not needed
    assert len(NYUDMultiTaskDataset(data_root=str(tmp_path),
                                    tasks=['semseg'])) == 2


def test_unknown_task():
    with pytest.raises(ValueError, match='valid: semseg, depth'):
        NYUDMultiTaskDataset(data_root='x', tasks=['saliency'])


def test_every_sample_carries_the_kinect_intrinsics(tmp_path):
    write_nyud(tmp_path)
    pipeline = PIPELINE + [dict(type=PackMultiTaskInputs)]
    packed = NYUDMultiTaskDataset(data_root=str(tmp_path),
                                  pipeline=pipeline)[1]['data_samples']
    k = np.array(packed.cam2img)
    assert k[0, 0] == pytest.approx(518.8579) and \
        k[1, 1] == pytest.approx(519.4696) and k[2, 2] == 1
    own = [[500.0, 0, 5.5], [0, 500.0, 3.5], [0, 0, 1]]
    assert NYUDMultiTaskDataset(data_root=str(tmp_path), cam2img=own)[0][
        'cam2img'] == own
    assert 'cam2img' not in NYUDMultiTaskDataset(data_root=str(tmp_path),
                                                 cam2img=None)[0]
    with pytest.raises(ValueError, match=r'cam2img must be a \(3, 3\) '
                       r'matrix, got shape \(2, 3\)'):
        NYUDMultiTaskDataset(data_root=str(tmp_path), cam2img=own[:2])
