"""The analytic cross-task consistency paths on scenes of known geometry."""
import math

import numpy as np
import pytest
import torch

from s4t_mm.datasets import SyntheticWorldDataset
from s4t_mm.evaluation import cross_task_consistency as C
from s4t_mm.evaluation.functional import angular_errors

H, W = 24, 32
K = torch.tensor([[40.0, 0.0, 15.5], [0.0, 42.0, 11.5], [0.0, 0.0, 1.0]],
                 dtype=torch.float64)


def plane_depth(normal, distance, k=K, h=H, w=W):
    """z-depth (1, 1, h, w) of the plane n . X = -distance (n facing the
    camera): z = -distance / (n . K^-1 (u, v, 1))."""
    v, u = torch.meshgrid(torch.arange(h, dtype=torch.float64),
                          torch.arange(w, dtype=torch.float64),
                          indexing='ij')
    rays = torch.stack([(u - k[0, 2]) / k[0, 0], (v - k[1, 2]) / k[1, 1],
                        torch.ones_like(u)])
    n = torch.as_tensor(normal, dtype=torch.float64)
    return (-distance / torch.einsum('c,chw->hw', n, rays))[None, None]


def unit(v):
    v = torch.as_tensor(v, dtype=torch.float64)
    return v / v.norm()


def test_normals_from_depth_of_a_tilted_plane_are_its_normal():
    n = unit([0.3, -0.4, -1.0])
    depth = plane_depth(n, 2.5)
    derived, valid = C.normals_from_depth(depth, K)
    assert valid[0, 1:-1, 1:-1].all() and not valid[0, 0].any() and \
        not valid[0, :, -1].any()
    inner = derived[0, :, 1:-1, 1:-1]
    torch.testing.assert_close(inner, n[:, None, None].expand_as(inner),
                               atol=1e-9, rtol=0)
    # a fronto-parallel wall faces the camera: (0, 0, -1)
    wall, _ = C.normals_from_depth(torch.full((1, 1, H, W), 3.0), K)
    torch.testing.assert_close(wall[0, :, 5, 7],
                               torch.tensor([0.0, 0.0, -1.0],
                                            dtype=torch.float64))


def test_normals_from_depth_need_the_right_intrinsics():
    n = unit([0.5, 0.2, -1.0])
    depth = plane_depth(n, 2.0)
    wrong = K.clone()
    wrong[0, 0] = wrong[1, 1] = 80.0
    derived, _ = C.normals_from_depth(depth, wrong)
    angle = angular_errors(derived[0, :, 12:13, 16:17], n[:, None, None])
    assert float(angle) > 5  # twice the focal length tilts the normal


def test_normals_disagreement_is_the_angle_to_the_predicted_normals():
    n = unit([0.0, -0.3, -1.0])
    depth = plane_depth(n, 3.0)
    # a prediction rotated by 10 degrees about the camera's x axis (which
    # is perpendicular to n)
    a = math.radians(10)
    rot = torch.tensor([[1, 0, 0], [0, math.cos(a), -math.sin(a)],
                        [0, math.sin(a), math.cos(a)]], dtype=torch.float64)
    normals = torch.stack([n, rot @ n])[..., None, None].expand(2, 3, H, W)
    losses = C.normals_disagreement(depth.expand(2, 1, H, W), normals, K)
    torch.testing.assert_close(losses, torch.tensor([0.0, 10.0],
                                                    dtype=torch.float64),
                               atol=1e-5, rtol=0)


def test_an_occlusion_is_left_out_of_the_derived_normals():
    depth = torch.full((1, 1, H, W), 2.0, dtype=torch.float64)
    depth[..., :, 16:] = 5.0  # a wall far behind the right half
    _, valid = C.normals_from_depth(depth, K)
    assert not valid[0, 5:-5, 15:17].any()
    assert valid[0, 5:-5, 2:14].all() and valid[0, 5:-5, 18:-1].all()


def test_normals_derived_from_rendered_depth_match_the_rendered_normals():
    """The embedded world's depth, normals and cam2img agree: the
    renderer's camera and this module's convention are the same."""
    dataset = SyntheticWorldDataset(split='val', num_samples=2, img_size=64,
                                    geometry='wide_fov_low')
    info = dataset[1]
    depth = torch.from_numpy(info['gt_depth'])[None, None]
    normals = torch.from_numpy(info['gt_normals']).permute(2, 0, 1)[None]
    k = torch.tensor(info['cam2img'])
    right = C.normals_disagreement(depth, normals, k)
    derived, valid = C.normals_from_depth(depth, k)
    median = angular_errors(normals[0], derived[0])[valid[0]].median()
    # exact on the planes (the mean is not: pixels next to an occlusion
    # whose depth step is small); half a pixel off in the principal point
    # (pixel corners instead of centres) would give 0.9 degrees
    assert median < 0.05 and right < 5
    wrong = k.clone()
    wrong[:2, :2] *= 1.5
    assert C.normals_disagreement(depth, normals, wrong) > right + 3


def test_semantic_boundaries_of_two_regions():
    labels = torch.zeros(1, 6, 8, dtype=torch.long)
    labels[..., 5:] = 3
    expected = torch.zeros(1, 6, 8, dtype=torch.bool)
    expected[..., 4:6] = True
    torch.testing.assert_close(C.semantic_boundaries(labels), expected)
    labels[0, 4:, :] = 1  # a third region below: a horizontal boundary too
    rows = C.semantic_boundaries(labels)[0]
    assert rows[3:5].all() and not rows[0, :4].any()


def test_boundary_disagreement_hand_computed():
    bound = torch.zeros(1, 8, 10, dtype=torch.bool)
    bound[0, :, 4] = True
    on = bound.double()
    far = torch.zeros(1, 8, 10, dtype=torch.float64)
    far[0, :, 8] = 1.0
    torch.testing.assert_close(C.boundary_disagreement(on, bound),
                               torch.zeros(1, dtype=torch.float64))
    # one pixel off is within the tolerance, four are not
    shifted = torch.roll(on, 1, dims=2)
    assert float(C.boundary_disagreement(shifted, bound)) < 1e-6
    assert float(C.boundary_disagreement(shifted, bound, tolerance=0)) == \
        pytest.approx(1.0)
    assert float(C.boundary_disagreement(far, bound)) == pytest.approx(1.0)
    # half the edge mass on the boundary (precision 1/2), the boundary's
    # pixels see 0.5 (recall 1/2): F = 1/2
    half = 0.5 * on + 0.5 * far
    assert float(C.boundary_disagreement(half, bound)) == \
        pytest.approx(0.5, abs=1e-6)
    # nothing and nothing agree
    empty = torch.zeros(1, 8, 10)
    assert float(C.boundary_disagreement(empty, empty.bool())) == \
        pytest.approx(0.0)


def test_consistency_losses_read_activated_predictions():
    n = unit([0.0, 0.0, -1.0])
    labels = torch.zeros(2, H, W, dtype=torch.long)
    labels[:, :, 10:] = 2
    probs = torch.nn.functional.one_hot(labels, 4).permute(0, 3, 1, 2)
    edge = C.semantic_boundaries(labels)[:, None].float()
    edge[1] = 0.0  # the second image's edge head sees no edge at all
    preds = dict(semseg=probs.float(), depth=torch.full((2, 1, H, W), 2.0),
                 normals=n[None, :, None, None].expand(2, 3, H, W).float(),
                 edge=edge)
    losses = C.consistency_losses(preds, K)
    assert list(losses) == list(C.CONSISTENCY_PATHS)
    torch.testing.assert_close(losses['normals_from_depth'],
                               torch.zeros(2, dtype=torch.float64),
                               atol=1e-5, rtol=0)
    assert float(losses['semantic_boundaries'][0]) == pytest.approx(0.0)
    assert float(losses['semantic_boundaries'][1]) == pytest.approx(1.0)
    # class ids work as well as probabilities
    ids = C.consistency_losses(dict(preds, semseg=labels[:, None]),
                               paths=['semantic_boundaries'])
    torch.testing.assert_close(ids['semantic_boundaries'],
                               losses['semantic_boundaries'])


def test_consistency_losses_bad_input():
    preds = dict(depth=torch.ones(1, 1, 4, 4), normals=torch.ones(1, 3, 4, 4))
    with pytest.raises(ValueError, match="unknown consistency paths"):
        C.consistency_losses(preds, K, paths=['normals_from_dpeth'])
    with pytest.raises(KeyError, match=r"need predictions of \['edge', "
                       r"'semseg'\]"):
        C.consistency_losses(preds, K)
    with pytest.raises(ValueError, match='needs the camera intrinsics'):
        C.consistency_losses(preds, paths=['normals_from_depth'])
    with pytest.raises(ValueError, match=r'cam2img must be .* got shape '
                       r'\(2, 3\)'):
        C.consistency_losses(preds, K[:2], paths=['normals_from_depth'])


def test_energy_standardises_each_path_by_mean_and_mean_absolute_deviation():
    reference = dict(a=torch.tensor([1.0, 2.0, 3.0, 6.0]),
                     b=torch.tensor([10.0, 30.0, float('nan')]))
    stats = C.path_statistics(reference)
    # a: mean 3, MAD (2 + 1 + 0 + 3) / 4 = 1.5; b: mean 20, MAD 10
    assert stats == dict(a=(3.0, 1.5), b=(20.0, 10.0))
    energy = C.consistency_energy(
        dict(a=torch.tensor([6.0, 3.0]), b=torch.tensor([40.0, np.nan])),
        stats)
    # image 0: (2 + 2) / 2; image 1: path b undefined, a alone: 0
    torch.testing.assert_close(energy, torch.tensor([2.0, 0.0],
                                                    dtype=torch.float64))
    with pytest.raises(KeyError, match=r"no reference statistics for paths "
                       r"\['c'\]"):
        C.consistency_energy(dict(c=torch.ones(1)), stats)
    with pytest.raises(ValueError, match=r"'a'.*MAD 0"):
        C.path_statistics(dict(a=torch.ones(3)))
