"""Geometry presets of the embedded world and the structural target domains
built from them."""
import os.path as osp
import zlib

import numpy as np
import pytest
from mmengine.config import Config

from s4t_mm.apis import check_domains, domain_dataloader
from s4t_mm.datasets.synthetic import (GEOMETRIES, SceneDistribution,
                                       cast_camera_rays, get_geometry,
                                       sample_scene)
from s4t_mm.datasets.synthetic.scene import BOX, CEILING, FLOOR
from s4t_mm.datasets.synthetic_world_dataset import (TASKS,
                                                     SyntheticWorldDataset,
                                                     render_sample)
from s4t_mm.registry import DATASETS

SIZE = 32
CONFIGS = osp.join(osp.dirname(__file__), '..', '..', 'configs', '_base_',
                   'datasets')


def make(**kwargs):
    args = dict(num_samples=3, img_size=SIZE, seed=0)
    args.update(kwargs)
    return SyntheticWorldDataset(**args)


def test_source_geometry_is_unchanged():
    # values of sample 0 rendered before geometry presets existed
    for data in (make()[0], make(geometry='source')[0]):
        semseg, depth = data['gt_semseg'], data['gt_depth']
        assert zlib.crc32(semseg.tobytes()) == 1007378369
        np.testing.assert_array_equal(
            np.bincount(semseg.ravel(), minlength=6),
            [204, 352, 326, 24, 22, 96])
        np.testing.assert_allclose(depth[[0, 16, 31], [5, 16, 20]],
                                   [1.8770109, 7.0693083, 2.3075554],
                                   rtol=1e-6)
        assert abs(data['img'].mean() - 88.701171875) < 0.01
        assert data['domain'] == 'source'
        assert data['img_path'] == 'synthetic://source/train/0'
    # lazy_init: only the cache's name is wanted, nothing is rendered
    assert osp.basename(make(cache_dir='c', lazy_init=True).cache_path) == (
        'synthetic_v1_source_train_seed0_n3_32x32_'
        'semseg-depth-normals-edge-saliency_edge0.1.npz')


@pytest.mark.parametrize('geometry', list(GEOMETRIES))
def test_every_geometry_renders_valid_labels(geometry):
    dataset = make(geometry=geometry, style='target_cool', split='test')
    for i, data in enumerate(dataset):
        semseg, depth = data['gt_semseg'], data['gt_depth']
        assert semseg.max() < len(dataset.metainfo['classes'])
        assert np.isfinite(depth).all() and depth.min() > 0
        assert depth.max() < 30  # the largest hall's diagonal
        norms = np.linalg.norm(data['gt_normals'], axis=-1)
        np.testing.assert_allclose(norms, 1, atol=1e-4)
        assert set(np.unique(data['gt_edge'])) <= {0.0, 1.0}
        np.testing.assert_array_equal(data['gt_saliency'], semseg >= BOX)
        domain = ('target_cool' if geometry == 'source' else
                  f'{geometry}+target_cool')
        assert data['domain'] == domain
        assert data['img_path'] == f'synthetic://{domain}/test/{i}'
    if geometry != 'source':
        assert geometry in osp.basename(
            make(geometry=geometry, cache_dir='c', lazy_init=True).cache_path)
        assert not np.array_equal(dataset[0]['gt_depth'],
                                  make(split='test')[0]['gt_depth'])


def test_geometry_is_independent_of_style():
    warm, cool = (render_sample(s, 'test', 1, img_size=SIZE,
                                geometry='corridor')
                  for s in ('target_warm', 'target_cool'))
    for task in TASKS:
        np.testing.assert_array_equal(warm[task], cool[task])
    assert np.abs(warm['img'].astype(float) - cool['img']).mean() > 10


def test_cache_keeps_geometries_apart(tmp_path):
    source = make(cache_dir=str(tmp_path))
    hall = make(cache_dir=str(tmp_path), geometry='hall')
    assert source.cache_path != hall.cache_path
    assert len(list(tmp_path.glob('*.npz'))) == 2
    np.testing.assert_array_equal(hall[2]['gt_depth'],
                                  make(geometry='hall')[2]['gt_depth'])


def label_statistics(geometry, num=16):
    """Label statistics of ``num`` test scenes at 32x32: class fractions
    (6,), mean depth, edge density, visible objects per image and the mean
    image fraction of one visible object."""
    counts, depth, edges, visible, areas = np.zeros(6), [], [], [], []
    for i in range(num):
        data = render_sample('source', 'test', i, img_size=SIZE,
                             geometry=geometry)
        counts += np.bincount(data['semseg'].ravel(), minlength=6)
        depth.append(data['depth'].mean())
        edges.append(data['edge'].mean())
        rng = np.random.default_rng(np.random.SeedSequence([0, 2, i, 0]))
        instance = cast_camera_rays(sample_scene(rng, get_geometry(geometry)),
                                    SIZE, SIZE).instance
        _, sizes = np.unique(instance[instance > 0], return_counts=True)
        visible.append(len(sizes))
        areas.extend(sizes / instance.size)
    return dict(classes=counts / counts.sum(), depth=np.mean(depth),
                edge=np.mean(edges), visible=np.mean(visible),
                area=np.mean(areas))


@pytest.fixture(scope='module')
def source_stats():
    return label_statistics('source')


def test_wide_fov_low_sees_more_of_the_room(source_stats):
    stats = label_statistics('wide_fov_low')
    # objects shrink in the image, and a low camera looking level or up
    # sees more ceiling and is nearer to what it sees
    assert stats['area'] < 0.7 * source_stats['area']
    assert stats['classes'][CEILING] > 1.5 * source_stats['classes'][CEILING]
    assert stats['depth'] < 0.85 * source_stats['depth']


def test_cluttered_small_shows_more_smaller_objects(source_stats):
    stats = label_statistics('cluttered_small')
    assert stats['visible'] > 2 * source_stats['visible']
    assert stats['area'] < 0.5 * source_stats['area']
    assert stats['edge'] > 1.1 * source_stats['edge']


def test_corridor_and_hall_change_the_layout(source_stats):
    corridor, hall = label_statistics('corridor'), label_statistics('hall')
    objects = slice(BOX, None)
    assert corridor['classes'][objects].sum() < 0.5 * source_stats[
        'classes'][objects].sum()
    assert hall['depth'] > 1.5 * source_stats['depth']
    assert hall['classes'][FLOOR] > 1.5 * source_stats['classes'][FLOOR]
    rng = np.random.default_rng(0)
    for _ in range(20):
        room = sample_scene(rng, GEOMETRIES['corridor']).room_size
        assert room[0] >= 8.0 and room[1] <= 2.6
        assert sample_scene(rng, GEOMETRIES['hall']).room_size[:2].min() >= 12


def test_round_objects_shift_the_class_frequencies():
    rng = np.random.default_rng(0)
    kinds = [obj.kind for _ in range(50)
             for obj in sample_scene(rng, GEOMETRIES['round_objects']).objects]
    boxes = kinds.count('box') / len(kinds)
    assert boxes < 0.2  # a third in the source
    np.testing.assert_allclose(
        GEOMETRIES['round_objects'].kind_probabilities(), [0.1, 0.45, 0.45])
    np.testing.assert_allclose(SceneDistribution().kind_probabilities(),
                               [1 / 3] * 3)


def test_narrow_fov_high_looks_down(source_stats):
    stats = label_statistics('narrow_fov_high')
    assert stats['classes'][CEILING] == 0
    assert stats['classes'][FLOOR] > 1.5 * source_stats['classes'][FLOOR]
    assert stats['area'] > source_stats['area']


def test_bad_geometry_names_valid_choices():
    with pytest.raises(ValueError, match="'office'.*source, wide_fov_low"):
        make(geometry='office')
    with pytest.raises(ValueError, match="'office'.*hall"):
        render_sample('source', 'test', 0, geometry='office')
    with pytest.raises(ValueError, match="'chair'.*box, sphere, cylinder"):
        SceneDistribution(object_weights=dict(chair=1.0))
    with pytest.raises(ValueError, match='positive sum'):
        SceneDistribution(object_weights=dict(box=0.0))


def test_metainfo_lists_geometries():
    assert SyntheticWorldDataset.METAINFO['geometries'] == tuple(GEOMETRIES)


def test_structural_domain_lists_build_datasets(tmp_path):
    config = tmp_path / 'world.py'
    config.write_text('_base_ = [{!r}, {!r}]\n'.format(
        osp.abspath(osp.join(CONFIGS, 'synthetic_world.py')),
        osp.abspath(osp.join(CONFIGS, 'synthetic_world_targets.py'))))
    cfg = Config.fromfile(str(config))
    structural = check_domains(cfg, 'structural_domains')
    validation = check_domains(cfg, 'structural_validation_domains')
    benchmark = check_domains(cfg, 'benchmark_domains')
    assert benchmark == list(cfg.target_domains) + structural
    assert check_domains(cfg, 'benchmark_validation_domains') == list(
        cfg.validation_domains) + validation
    assert len(structural) >= 4 and len(validation) == 1
    # the validation domain's preset is never reported
    reported = {d['dataset']['geometry'] for d in structural}
    assert validation[0]['dataset']['geometry'] not in reported
    assert reported <= set(GEOMETRIES) - {'source'}
    for domain in structural + validation:
        loader = domain_dataloader(cfg.test_dataloader, domain)
        loader.dataset.update(img_size=SIZE, cache_dir=None)
        dataset = DATASETS.build(loader.dataset)
        assert len(dataset) == 100
        assert dataset.split == ('val' if domain in validation else 'test')
        sample = dataset[99]
        assert sample['inputs'].shape == (3, SIZE, SIZE)
        assert sample['data_samples'].metainfo['domain'].startswith(
            domain['dataset']['geometry'] + '+')
        corrupted = any(t['type'] == 'ImageCorruption'
                        for t in loader.dataset.pipeline)
        assert corrupted == ('corruption' in domain)
