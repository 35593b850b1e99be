"""PascalContextMultiTaskDataset on a tiny fixture in the on-disk layout."""
import numpy as np
import pytest
import scipy.io
from mmcv.transforms import LoadImageFromFile
from PIL import Image

from s4t_mm.datasets.pascal_context_multi_task import (
    HUMAN_PART_IDS, PascalContextMultiTaskDataset)
from s4t_mm.datasets.transforms.loading import LoadMultiTaskAnnotations

H, W = 10, 12

PART_DTYPE = [('part_name', 'O'), ('mask', 'O')]
OBJECT_DTYPE = [('class', 'O'), ('class_ind', 'O'), ('mask', 'O'),
                ('parts', 'O')]


def parts_struct(objects):
    """A PASCAL-Part ``anno`` struct; objects: (class_ind, mask, parts)."""
    objs = np.zeros((1, len(objects)), dtype=OBJECT_DTYPE)
    for j, (class_ind, mask, parts) in enumerate(objects):
        part_arr = np.zeros((1, len(parts)), dtype=PART_DTYPE)
        for k, (name, part_mask) in enumerate(parts):
            part_arr[0, k] = (name, part_mask.astype(np.uint8))
        objs[0, j] = ('obj', np.array([[class_ind]]), mask.astype(np.uint8),
                      part_arr if parts else np.zeros((0, 0)))
    anno = np.zeros((1, 1), dtype=[('imname', 'O'), ('objects', 'O')])
    anno[0, 0] = ('img', objs if objects else np.zeros((0, 0)))
    return dict(anno=anno)


def write_pascal(root):
    for folder in ('JPEGImages', 'ImageSets/Context', 'semseg/VOC12',
                   'semseg/pascal-context', 'human_parts', 'normals_distill',
                   'sal_distill', 'pascal-context/trainval'):
        (root / folder).mkdir(parents=True)
    for sample_id in ('p1', 'p2'):
        Image.fromarray(np.full((H, W, 3), 90, np.uint8)).save(
            root / 'JPEGImages' / f'{sample_id}.jpg')
        seg = np.zeros((H, W), np.uint8)
        seg[0, :4] = [9, 20, 15, 255]  # chair, tvmonitor, person, ignore
        Image.fromarray(seg).save(root / 'semseg' / 'pascal-context' /
                                  f'{sample_id}.png')
        normals = np.zeros((H, W, 3), np.uint8)
        normals[...] = (128, 0, 128)  # n = (0, -1, 0)
        Image.fromarray(normals).save(root / 'normals_distill' /
                                      f'{sample_id}.png')
        sal = np.zeros((H, W), np.uint8)
        sal[:, :6] = [0, 100, 127, 128, 200, 255]
        Image.fromarray(sal).save(root / 'sal_distill' / f'{sample_id}.png')
        labels = np.full((H, W), 7, np.uint16)
        labels[:, 6:] = 300  # two regions split at column 6
        scipy.io.savemat(root / 'pascal-context' / 'trainval' /
                         f'{sample_id}.mat', dict(LabelMap=labels))
    # p1 has a VOC12 map too, which takes precedence
    Image.fromarray(np.full((H, W), 18, np.uint8)).save(
        root / 'semseg' / 'VOC12' / 'p1.png')
    head = np.zeros((H, W), bool)
    head[1:3, 1:3] = True
    foot = np.zeros((H, W), bool)
    foot[8, 1:3] = True
    person = np.zeros((H, W), bool)
    person[1:9, 1:3] = True
    chair_mask = np.zeros((H, W), bool)
    chair_mask[5:, 8:] = True
    scipy.io.savemat(
        root / 'human_parts' / 'p1.mat',
        parts_struct([(9, chair_mask, []),
                      (15, person, [('hair', head), ('lfoot', foot)])]))
    scipy.io.savemat(root / 'human_parts' / 'p2.mat', parts_struct([]))
    (root / 'ImageSets' / 'Context' / 'val.txt').write_text('p1\np2\n')


PIPELINE = [
    dict(type=LoadImageFromFile),
    dict(type=LoadMultiTaskAnnotations),
]


def test_layout_and_decoding(tmp_path):
    write_pascal(tmp_path)
    dataset = PascalContextMultiTaskDataset(
        data_root=str(tmp_path), pipeline=PIPELINE)
    assert len(dataset) == 2
    assert dataset.metainfo['human_parts_classes'][0] == 'background'
    p1, p2 = dataset[0], dataset[1]
    assert p1['tasks'] == [
        'semseg', 'human_parts', 'normals', 'saliency', 'edge'
    ]
    # VOC12 map preferred over the pascal-context one
    assert (p1['gt_semseg'] == 18).all()
    np.testing.assert_array_equal(p2['gt_semseg'][0, :5], [9, 20, 15, 255, 0])

    parts = p1['gt_human_parts']
    assert parts[1, 1] == HUMAN_PART_IDS['hair'] == 1
    assert parts[8, 1] == HUMAN_PART_IDS['lfoot'] == 6
    assert parts[5, 9] == 0  # chair, not a person
    assert set(np.unique(parts)) == {0, 1, 6}
    assert (p2['gt_human_parts'] == 0).all()
    assert p2['gt_human_parts'].shape == (H, W)

    np.testing.assert_allclose(p1['gt_normals'][4, 4], [0, -1, 0], atol=0.01)
    np.testing.assert_array_equal(p1['gt_saliency'][0, :6],
                                  [0, 0, 0, 1, 1, 1])

    edge = p1['gt_edge']
    assert set(np.unique(edge)) == {0.0, 1.0}
    # a one-pixel-thin vertical boundary next to column 6 (thinning may
    # shorten its ends)
    assert edge[:, :5].sum() == 0 and edge[:, 7:].sum() == 0
    assert (edge[:, 5:7].sum(axis=1) <= 1).all()
    assert edge.sum() >= H - 2


def test_label_map_and_normals_mask(tmp_path):
    write_pascal(tmp_path)
    dataset = PascalContextMultiTaskDataset(
        data_root=str(tmp_path),
        tasks=['semseg', 'normals'],
        label_map='pascal_taskonomy',
        normals_valid_labels=[7],
        pipeline=PIPELINE)
    assert dataset.metainfo['classes'] == ('table', 'tv', 'bottle', 'sofa',
                                           'potted plant', 'chair')
    p2 = dataset[1]
    # chair -> 5, tvmonitor -> 1, person -> ignore
    np.testing.assert_array_equal(p2['gt_semseg'][0, :4], [5, 1, 255, 255])
    normals = p2['gt_normals']
    assert (normals[:, 6:] == 255).all()  # context label 300 not valid
    np.testing.assert_allclose(normals[:, :6, 1], -1, atol=0.01)


def test_missing_root_and_files(tmp_path):
    with pytest.raises(FileNotFoundError, match='sal_distill/<id>.png'):
        PascalContextMultiTaskDataset(data_root=str(tmp_path / 'nowhere'))
    write_pascal(tmp_path)
    (tmp_path / 'human_parts' / 'p2.mat').unlink()
    with pytest.raises(FileNotFoundError, match='p2.mat'):
        PascalContextMultiTaskDataset(data_root=str(tmp_path))


def test_corrupt_mat_is_named(tmp_path):
    write_pascal(tmp_path)
    (tmp_path / 'pascal-context' / 'trainval' / 'p2.mat').write_bytes(b'x')
    dataset = PascalContextMultiTaskDataset(
        data_root=str(tmp_path), tasks=['edge'], pipeline=PIPELINE)
    with pytest.raises(ValueError, match='p2.mat'):
        dataset[1]
