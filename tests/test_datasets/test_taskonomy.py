"""TaskonomyDataset on a tiny fixture in the on-disk layout."""
import json
import os

import cv2
import numpy as np
import pytest
from mmcv.transforms import LoadImageFromFile
from PIL import Image

from s4t_mm.datasets import taskonomy as taskonomy_module
from s4t_mm.datasets.taskonomy import TaskonomyDataset
from s4t_mm.datasets.transforms.loading import LoadMultiTaskAnnotations

S = 8
DOMAINS = ('rgb', 'segment_semantic', 'depth_zbuffer', 'normal',
           'edge_occlusion')


def view_file(root, domain, building, point, view):
    folder = root / domain / 'taskonomy' / building
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f'point_{point}_view_{view}_domain_{domain}.png'


def write_view(root, building, point, view, domains=DOMAINS):
    """Every file of the view encodes ``point`` so pairing can be checked."""
    files = {
        'rgb': np.full((S, S, 3), point, np.uint8),
        'segment_semantic': np.tile(np.array([14, 3, 1, 7], np.uint8),
                                    (S, 2)),
        'depth_zbuffer': np.full((S, S), 512 * (point + 1), np.uint16),
        'normal': np.tile(np.array([128, 128, 255], np.uint8), (S, S, 1)),
        'edge_occlusion': np.zeros((S, S), np.uint16),
    }
    files['depth_zbuffer'][0, 0] = 65535
    files['edge_occlusion'][2, :3] = [100, 300, 60000]
    for domain in domains:
        path = view_file(root, domain, building, point, view)
        array = files[domain]
        if array.dtype == np.uint16:
            cv2.imwrite(str(path), array)
        else:
            Image.fromarray(array).save(path)


PIPELINE = [
    dict(type=LoadImageFromFile),
    dict(type=LoadMultiTaskAnnotations),
]


def test_decoding(tmp_path):
    write_view(tmp_path, 'bldA', 3, 0)
    dataset = TaskonomyDataset(
        data_root=str(tmp_path), buildings=['bldA'], pipeline=PIPELINE)
    results = dataset[0]
    assert results['sample_id'] == 'bldA/point_3_view_0'
    assert results['domain'] == 'taskonomy'
    np.testing.assert_array_equal(results['gt_semseg'][0, :4], [14, 3, 1, 7])
    depth = results['gt_depth']
    assert depth.dtype == np.float32
    assert depth[0, 0] == 255 and depth[1, 1] == 4.0  # 512 * 4 / 512 m
    # stored (128, 128, 255) decodes to -(0, 0, 1): facing the camera
    np.testing.assert_allclose(results['gt_normals'][1, 1], [0, 0, -1],
                               atol=0.01)
    np.testing.assert_array_equal(results['gt_edge'][2, :4], [0, 1, 1, 0])


def test_label_map(tmp_path):
    write_view(tmp_path, 'bldA', 0, 0)
    dataset = TaskonomyDataset(
        data_root=str(tmp_path),
        buildings=['bldA'],
        tasks=['semseg'],
        label_map='nyud_taskonomy',
        pipeline=PIPELINE)
    assert dataset.metainfo['classes'][0] == 'refrigerator'
    # refrigerator -> 0, chair -> 6, background -> ignore, table -> 1
    np.testing.assert_array_equal(dataset[0]['gt_semseg'][0, :4],
                                  [0, 6, 255, 1])


class _ReversedScandir:
    """os.scandir listing entries in reverse name order for one domain."""

    def __init__(self, real, domain):
        self.real, self.domain = real, domain

    def __call__(self, path):
        entries = sorted(self.real(path), key=lambda e: e.name)
        if f'{os.sep}{self.domain}{os.sep}' in str(path):
            entries.reverse()
        return _Listing(entries)


class _Listing(list):

    def __enter__(self):
        return self

    def __exit__(self, *args):
        return False


def test_pairs_by_view_not_listing_order(tmp_path, monkeypatch):
    for point in (0, 1, 2, 10):
        write_view(tmp_path, 'bldA', point, 0)
    # point 1 lacks depth: positional pairing would shift every later view
    write_view(tmp_path, 'bldA', 5, 1, domains=('rgb', 'normal'))
    (tmp_path / 'depth_zbuffer' / 'taskonomy' / 'bldA' /
     'point_1_view_0_domain_depth_zbuffer.png').unlink()
    monkeypatch.setattr(taskonomy_module.os, 'scandir',
                        _ReversedScandir(os.scandir, 'depth_zbuffer'))
    dataset = TaskonomyDataset(
        data_root=str(tmp_path),
        buildings=['bldA'],
        tasks=['depth', 'normals'],
        pipeline=PIPELINE)
    assert [dataset.get_data_info(i)['sample_id'] for i in range(3)] == [
        'bldA/point_0_view_0', 'bldA/point_2_view_0', 'bldA/point_10_view_0'
    ]
    for i in range(len(dataset)):
        results = dataset[i]
        point = int(results['img'][1, 1, 0])
        assert results['gt_depth'][1, 1] == point + 1


def test_missing_views_error_mode(tmp_path):
    write_view(tmp_path, 'bldA', 0, 0)
    write_view(tmp_path, 'bldA', 1, 0, domains=('rgb', ))
    with pytest.raises(FileNotFoundError,
                       match='point_1_view_0_domain_segment_semantic.png'):
        TaskonomyDataset(
            data_root=str(tmp_path), buildings=['bldA'], on_missing='error')
    with pytest.raises(FileNotFoundError, match='bldZ'):
        TaskonomyDataset(
            data_root=str(tmp_path),
            buildings=['bldZ', 'bldA'],
            on_missing='error')
    dataset = TaskonomyDataset(
        data_root=str(tmp_path), buildings=['bldA', 'bldZ'])
    assert len(dataset) == 1


def test_buildings_from_files(tmp_path):
    for building in ('bldA', 'bldB', 'bldC'):
        write_view(tmp_path, building, 0, 0)
    (tmp_path / 'split.csv').write_text(
        'id,train,val,test\nbldA,1,0,0\nbldB,0,1,0\nbldC,0,0,1\n')
    (tmp_path / 'list.txt').write_text('bldC\nbldA\n')

    def ids(**kwargs):
        dataset = TaskonomyDataset(data_root=str(tmp_path), **kwargs)
        return [dataset.get_data_info(i)['sample_id']
                for i in range(len(dataset))]

    assert ids(buildings='split.csv') == ['bldA/point_0_view_0']
    assert ids(buildings='split.csv', split_columns=('train', 'val')) == [
        'bldA/point_0_view_0', 'bldB/point_0_view_0'
    ]
    assert ids(buildings=str(tmp_path / 'list.txt')) == [
        'bldC/point_0_view_0', 'bldA/point_0_view_0'
    ]


def test_missing_root_names_path_and_layout(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        TaskonomyDataset(data_root=str(tmp_path / 'gone'), buildings=['b'])
    assert 'gone' in str(err.value) and 'depth_zbuffer' in str(err.value)


def test_point_info_gives_the_views_camera_matrix(tmp_path):
    write_view(tmp_path, 'bldA', 1, 0)
    write_view(tmp_path, 'bldA', 2, 0)
    info = view_file(tmp_path, 'point_info', 'bldA', 1, 0)
    # a 90 degree horizontal FOV at 512 px: f = 256
    info.with_suffix('.json').write_text(json.dumps(dict(
        field_of_view_rads=np.pi / 2, resolution=512,
        camera_location=[0, 0, 0])))
    dataset = TaskonomyDataset(data_root=str(tmp_path), buildings=['bldA'],
                               pipeline=PIPELINE)
    with_info, without = dataset[0], dataset[1]
    np.testing.assert_allclose(with_info['cam2img'],
                               [[256, 0, 255.5], [0, 256, 255.5], [0, 0, 1]])
    assert 'cam2img' not in without and 'point_info_path' not in without
    info.with_suffix('.json').write_text(json.dumps(dict(resolution=512)))
    with pytest.raises(KeyError, match=r"no \['field_of_view_rads'\]"):
        dataset[0]
