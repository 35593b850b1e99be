"""The multi-task gain delta_m: signs from the metric directions, one key
per task measured in both, and errors that name what is missing."""
import pytest

from s4t_mm.evaluation import multi_task_gain as gain


def test_delta_m_signs():
    base = {'semseg/mIoU': 40.0, 'depth/rmse': 0.6}
    better = {'semseg/mIoU': 44.0, 'depth/rmse': 0.5}
    # +10% mIoU, and an RMSE drop of 1/6 counts as +16.7%
    assert gain.delta_m(better, base) == pytest.approx((10 + 100 / 6) / 2)
    worse = {'semseg/mIoU': 40.0, 'depth/rmse': 0.66}
    assert gain.delta_m(worse, base) == pytest.approx(-5.0)
    assert gain.delta_m(better, base, keys=['depth/rmse']) == pytest.approx(
        100 / 6)


def test_delta_m_uses_one_key_per_task_in_both():
    metrics = {'semseg/mIoU': 50.0, 'semseg/aAcc': 90.0, 'edge/l1': 0.05,
               'normals/mean': 20.0}
    base = {'semseg/mIoU': 40.0, 'semseg/aAcc': 10.0, 'edge/l1': 0.1}
    assert gain.delta_m_keys(metrics, base) == ['semseg/mIoU', 'edge/l1']
    assert gain.delta_m(metrics, base) == pytest.approx((25 + 50) / 2)


def test_delta_m_prefers_the_edge_score_that_cannot_be_gamed():
    base = {'edge/l1': 0.10, 'edge/odsF_tol': 40.0}
    # no edges predicted: l1 falls, the F-measure collapses
    silent = {'edge/l1': 0.05, 'edge/odsF_tol': 0.0}
    assert gain.delta_m_keys(silent, base) == ['edge/odsF_tol']
    assert gain.delta_m(silent, base) == pytest.approx(-100.0)
    # without the F-measure on one side, l1 is used
    assert gain.delta_m({'edge/l1': 0.05}, base) == pytest.approx(50.0)


def test_delta_m_errors():
    with pytest.raises(ValueError, match='evaluate both the same way'):
        gain.delta_m({'depth/rmse_aligned': 1.0}, {'depth/rmse': 1.0})
    with pytest.raises(ValueError, match='share none'):
        gain.delta_m({'semseg/mIoU': 1.0}, {'depth/rmse': 1.0})
    with pytest.raises(KeyError, match="'depth/mse'"):
        gain.delta_m({'depth/mse': 1.0}, {'depth/mse': 1.0},
                     keys=['depth/mse'])
    with pytest.raises(ValueError, match='is 0'):
        gain.delta_m({'edge/l1': 1.0}, {'edge/l1': 0.0})
