import numpy as np
import pytest

from s4t_mm.datasets.synthetic import (Camera, Scene, SceneObject,
                                       cast_camera_rays, occlusion_edges,
                                       sample_scene)
from s4t_mm.datasets.synthetic.scene import (BOX, CEILING, CYLINDER, FLOOR,
                                             SPHERE, WALL, camera_rays)
from s4t_mm.datasets.synthetic_world_dataset import (TASKS,
                                                     SyntheticWorldDataset)

SIZE = 32


def make(**kwargs):
    args = dict(num_samples=4, img_size=SIZE, seed=0)
    args.update(kwargs)
    return SyntheticWorldDataset(**args)


def assert_same(a, b):
    assert a['img_path'] == b['img_path']
    for key in ['img'] + [f'gt_{t}' for t in TASKS]:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)


def test_sample_layout():
    data = make(style='target_warm', split='val', img_size=(24, 40))[1]
    assert data['img'].shape == (24, 40, 3) and data['img'].dtype == np.uint8
    assert data['tasks'] == list(TASKS)
    assert data['img_path'] == 'synthetic://target_warm/val/1'
    assert data['sample_idx'] == 1 and data['domain'] == 'target_warm'
    assert data['ori_shape'] == data['img_shape'] == (24, 40)
    assert data['gt_semseg'].dtype == np.uint8
    assert data['gt_normals'].shape == (24, 40, 3)
    for task in ('depth', 'normals', 'edge', 'saliency'):
        assert data[f'gt_{task}'].dtype == np.float32


def test_metainfo_documents_classes():
    meta = SyntheticWorldDataset.METAINFO
    assert meta['classes'] == ('floor', 'wall', 'ceiling', 'box', 'sphere',
                               'cylinder')
    assert len(meta['palette']) == len(meta['classes'])
    assert set(meta['styles']) >= {'source', 'target_warm', 'target_cool'}


def test_deterministic_across_calls_and_instances():
    a, b = make(), make(serialize_data=False)
    assert_same(a[2], a[2])
    assert_same(a[2], b[2])


def test_seeds_and_splits_give_other_scenes():
    base = make()[0]
    for other in (make(seed=1)[0], make(split='test')[0]):
        assert not np.array_equal(base['gt_depth'], other['gt_depth'])


def test_styles_share_geometry_but_not_appearance():
    samples = [make(style=s)[3] for s in SyntheticWorldDataset.METAINFO[
        'styles']]
    for other in samples[1:]:
        for task in TASKS:
            np.testing.assert_array_equal(samples[0][f'gt_{task}'],
                                          other[f'gt_{task}'])
        diff = np.abs(samples[0]['img'].astype(float) - other['img'])
        assert diff.mean() > 10


def test_labels_are_valid():
    dataset = make(num_samples=6, img_size=48)
    for data in dataset:
        semseg, depth = data['gt_semseg'], data['gt_depth']
        assert semseg.max() < len(dataset.metainfo['classes'])
        assert np.isfinite(depth).all() and depth.min() > 0
        assert depth.max() < 15  # room diagonal
        norms = np.linalg.norm(data['gt_normals'], axis=-1)
        np.testing.assert_allclose(norms, 1, atol=1e-4)
        edge = data['gt_edge']
        assert set(np.unique(edge)) <= {0.0, 1.0}
        assert edge.mean() < 0.1
        np.testing.assert_array_equal(data['gt_saliency'], semseg >= BOX)


def test_tasks_subset():
    data = make(tasks=('depth', 'edge'))[0]
    assert data['tasks'] == ['depth', 'edge']
    assert 'gt_semseg' not in data and 'gt_normals' not in data


def test_indices_keep_the_scene_index():
    full, subset = make(), make(indices=[2])
    assert len(subset) == 1
    assert subset[0]['sample_idx'] == 2
    assert_same(subset[0], full[2])


def test_bad_arguments_name_valid_choices():
    with pytest.raises(ValueError, match="'cartoon'.*source"):
        make(style='cartoon')
    with pytest.raises(ValueError, match="'training'.*train, val, test"):
        make(split='training')
    with pytest.raises(ValueError, match="'nromals'.*normals"):
        make(tasks=('nromals', ))


def test_cache_round_trip(tmp_path, monkeypatch):
    cached = make(cache_dir=str(tmp_path))
    assert (tmp_path / cached.cache_path.split('/')[-1]).exists()
    assert not list(tmp_path.glob('*.tmp'))
    fresh = [sample for sample in make()]
    for i, sample in enumerate(fresh):
        assert_same(cached[i], sample)

    def fail(*args):
        raise AssertionError('rendered although cached')

    monkeypatch.setattr(SyntheticWorldDataset, '_render', fail)
    reloaded = make(cache_dir=str(tmp_path))
    assert_same(reloaded[3], fresh[3])


def test_visible_surfaces_face_the_camera():
    for i in range(5):
        scene = sample_scene(np.random.default_rng(i))
        geo = cast_camera_rays(scene, SIZE, SIZE)
        rays = camera_rays(scene.camera, SIZE, SIZE)
        facing = (geo.world_normals.reshape(-1, 3) * rays).sum(-1)
        assert (facing < 0).all()
        assert 3 <= len(scene.objects) <= 8


def look_along_x(fov_deg, pitch=0.0):
    return Camera(
        position=np.array([1.0, 2.0, 1.5]),
        yaw=0.0,
        pitch=pitch,
        fov_x=np.deg2rad(fov_deg))


ROOM = np.array([4.0, 4.0, 3.0])


def test_facing_wall_depth_is_z_distance_not_ray_length():
    # the wall x = 4 lies 3 m ahead; with fov 60 every column sees it
    geo = cast_camera_rays(Scene(ROOM, (), look_along_x(60)), 33, 33)
    wall = geo.semseg == WALL
    assert wall[16].all()
    np.testing.assert_allclose(geo.depth[wall], 3.0, rtol=1e-6)
    np.testing.assert_allclose(geo.normals[wall], [[0, 0, -1]] * wall.sum(),
                               atol=1e-6)
    # floor below, ceiling above; camera y points down, so the floor's
    # upward normal is -y and the ceiling's is +y
    assert (geo.semseg[-1] == FLOOR).all() and (geo.semseg[0] == CEILING).all()
    np.testing.assert_allclose(geo.normals[-1], [[0, -1, 0]] * 33, atol=1e-6)
    np.testing.assert_allclose(geo.normals[0], [[0, 1, 0]] * 33, atol=1e-6)
    # bottom row: ray slope 16 px / focal, 1.5 m below the camera
    focal = 16.5 / np.tan(np.deg2rad(30))
    np.testing.assert_allclose(geo.depth[-1, 16], 1.5 * focal / 16, rtol=1e-6)


def test_side_walls_follow_opencv_axes():
    geo = cast_camera_rays(Scene(ROOM, (), look_along_x(120)), 33, 33)
    # the wall y = 4 is on the camera's left; its inward normal points to
    # the camera's right (+x)
    np.testing.assert_allclose(geo.normals[16, 0], [1, 0, 0], atol=1e-6)
    np.testing.assert_allclose(geo.normals[16, -1], [-1, 0, 0], atol=1e-6)


def test_floor_seen_from_above():
    geo = cast_camera_rays(
        Scene(ROOM, (), look_along_x(60, pitch=-np.pi / 2)), 9, 9)
    assert (geo.semseg == FLOOR).all()
    np.testing.assert_allclose(geo.depth, 1.5, rtol=1e-6)
    np.testing.assert_allclose(geo.normals.reshape(-1, 3), [[0, 0, -1]] * 81,
                               atol=1e-6)


@pytest.mark.parametrize('kind,cls', [('sphere', SPHERE), ('box', BOX),
                                      ('cylinder', CYLINDER)])
def test_object_straight_ahead(kind, cls):
    obj = SceneObject(kind, np.array([3.0, 2.0, 1.5]), np.full(3, 0.5))
    geo = cast_camera_rays(Scene(ROOM, (obj, ), look_along_x(60)), 33, 33)
    # the centre ray runs along the optical axis and hits the front 2 - 0.5
    # metres ahead
    assert geo.semseg[16, 16] == cls and geo.instance[16, 16] == 1
    np.testing.assert_allclose(geo.depth[16, 16], 1.5, rtol=1e-6)
    np.testing.assert_allclose(geo.normals[16, 16], [0, 0, -1], atol=1e-6)
    edges = occlusion_edges(geo.depth, geo.instance)
    # the outline is on the object (the nearer side), one pixel thick
    assert (geo.instance[edges] == 1).all()
    inside = geo.instance == 1
    assert edges.sum() < inside.sum() / 2
    assert not edges[16, 16]


def test_pipeline_corrupts_image_and_packs_labels():
    from s4t_mm.datasets.transforms.corruption import ImageCorruption
    from s4t_mm.datasets.transforms.formatting import PackMultiTaskInputs
    clean = make()[1]
    packed = make(pipeline=[
        ImageCorruption(corruption='gaussian_noise', severity=3),
        PackMultiTaskInputs()
    ])[1]
    inputs, sample = packed['inputs'], packed['data_samples']
    assert tuple(inputs.shape) == (3, SIZE, SIZE)
    assert not np.array_equal(inputs.numpy().transpose(1, 2, 0),
                              clean['img'])
    assert sample.metainfo['domain'] == 'source'
    np.testing.assert_array_equal(sample.gt_depth.data[0].numpy(),
                                  clean['gt_depth'])
    np.testing.assert_array_equal(sample.gt_semseg.data[0].numpy(),
                                  clean['gt_semseg'])
