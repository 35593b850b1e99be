"""The task-relation matrix R of the relation predictor, on a tiny model."""
import numpy as np
import pytest
import torch
import torch.nn as nn

from s4t_mm.evaluation.task_relations import (relation_errors,
                                              relation_record,
                                              task_relation_matrix)
from s4t_mm.registry import MODELS
from s4t_mm.structures import MultiTaskDataSample
from s4t_mm.visualization import HeatmapPanel, gain_notes, plot_relations
from ..test_models.utils import synthetic_batch, tiny_model_cfg

TASKS = ['semseg', 'depth', 'normals', 'edge']


def _model():
    return MODELS.build(tiny_model_cfg(relation=True))


def _unlabeled_batch(n=2, seed=0):
    batch = synthetic_batch(n=n, seed=seed)
    for sample in batch['data_samples']:
        for task in sample.gt_tasks:
            delattr(sample, 'gt_' + task)
        assert sample.gt_tasks == []
    return batch


class _TaskFromSlice(nn.Module):
    """A stand-in autoencoder whose output for task j reads only the
    compressed slice of task ``source[j]``, so R is known exactly."""

    def __init__(self, predictor, source):
        super().__init__()
        c = predictor.task_feat_channels
        self.slices = [predictor.tasks.index(source[t]) * c
                       for t in predictor.tasks]
        self.c = c
        self.convs = nn.ModuleList(
            nn.Conv2d(c, out, 1) for out in predictor.task_channels.values())

    def forward(self, x, mask_ratio, generator=None):
        out = torch.cat([conv(x[:, s:s + self.c])
                         for s, conv in zip(self.slices, self.convs)], 1)
        return out, None


def test_matrix_is_tasks_by_tasks_from_samples_without_ground_truth():
    matrix, tasks = task_relation_matrix(_model(), [_unlabeled_batch()])
    assert tasks == TASKS
    assert matrix.shape == (4, 4)
    assert np.isfinite(matrix).all()


def test_nothing_visible_is_zero_and_everything_visible_is_one():
    model = _model()
    matrix, _ = task_relation_matrix(model, [_unlabeled_batch()],
                                     views=[(), TASKS])
    np.testing.assert_array_equal(matrix[0], np.zeros(4))
    np.testing.assert_array_equal(matrix[1], np.ones(4))


@pytest.mark.parametrize('shift', [0, 1])
def test_rows_are_visible_tasks_and_columns_reconstructed_ones(shift):
    """Task j reconstructed from task (j + shift)'s features alone: R is 1
    at (j + shift, j) and 0 elsewhere, so with shift 0 the diagonal (a
    task's own features) carries everything."""
    model = _model()
    source = {t: TASKS[(j + shift) % 4] for j, t in enumerate(TASKS)}
    model.relation_predictor.autoencoder = _TaskFromSlice(
        model.relation_predictor, source)
    matrix, _ = task_relation_matrix(model, [_unlabeled_batch()])
    expected = np.zeros((4, 4))
    for j in range(4):
        expected[(j + shift) % 4, j] = 1
    np.testing.assert_allclose(matrix, expected, atol=1e-6)


def test_deterministic_for_a_seed_and_model_state_untouched():
    model = _model()
    model.train()
    model.backbone.eval()  # a mixed mode must survive too
    state = {k: v.clone() for k, v in model.state_dict().items()}
    batches = [_unlabeled_batch(seed=0), _unlabeled_batch(seed=1)]
    first = relation_errors(model, batches, seed=3)
    second = relation_errors(model, batches, seed=3)
    for key in ('rows', 'all', 'none'):
        np.testing.assert_array_equal(first[key], second[key])
    assert first['num_images'] == 4
    assert model.training and not model.backbone.training
    assert model.heads.training
    for key, value in model.state_dict().items():
        assert torch.equal(value, state[key]), key


class _NoGroundTruthAccess(MultiTaskDataSample):
    """Carries labels but fails the test if anything reads one."""

    def __getattribute__(self, name):
        if name.startswith('gt_'):
            raise AssertionError(f'ground truth {name} was read')
        return super().__getattribute__(name)


def test_ground_truth_is_never_read():
    batch = synthetic_batch(n=2)
    guarded = []
    for sample in batch['data_samples']:
        copy = _NoGroundTruthAccess(metainfo=sample.metainfo)
        for key in sample.keys():
            copy.set_field(sample.get(key), key)
        guarded.append(copy)
    with pytest.raises(AssertionError, match='ground truth'):
        guarded[0].gt_depth
    model = _model()
    labelled, _ = task_relation_matrix(model, [batch])
    matrix, _ = task_relation_matrix(
        model, [dict(inputs=batch['inputs'], data_samples=guarded)])
    np.testing.assert_array_equal(matrix, labelled)


def test_bad_arguments_are_named():
    model = _model()
    with pytest.raises(ValueError, match=r"unknown task\(s\) \['nromals'\]"):
        task_relation_matrix(model, [_unlabeled_batch()],
                             views=[('nromals', )])
    with pytest.raises(ValueError, match='no batches'):
        task_relation_matrix(model, [])
    without = MODELS.build(tiny_model_cfg())
    with pytest.raises(ValueError, match='no relation_predictor'):
        task_relation_matrix(without, [_unlabeled_batch()])


def test_record_and_heatmap(tmp_path):
    batches = [_unlabeled_batch()]
    matrix, record = relation_record(_model(), batches, seed=0)
    assert record['tasks'] == TASKS and record['num_images'] == 2
    np.testing.assert_allclose(record['matrix'], matrix)
    err_none, err_all = np.array(record['err_none']), np.array(
        record['err_all'])
    np.testing.assert_allclose(
        matrix, (err_none - np.array(record['err_single'])) /
        (err_none - err_all))
    np.testing.assert_allclose(record['all_task_gain'],
                               1 - err_all / err_none)
    path = tmp_path / 'r.png'
    image = plot_relations(TASKS, [
        HeatmapPanel('R', matrix, column_notes=gain_notes(record)),
        HeatmapPanel('diff', matrix - 0.5, difference=True)],
        out_file=str(path))
    assert path.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    assert image.ndim == 3 and image.shape[2] == 3


def test_predictor_hides_the_channels_of_invisible_tasks():
    predictor = _model().relation_predictor
    compressed = torch.randn(2, 16, 8, 8)
    hidden = predictor.hide_tasks(compressed, ['depth', 'edge'])
    visible = torch.zeros(16, dtype=torch.bool)
    visible[4:8] = visible[12:16] = True
    torch.testing.assert_close(hidden[:, visible], compressed[:, visible])
    assert (hidden[:, ~visible] == 0).all()
    predictor.eval()
    g = torch.Generator().manual_seed(0)
    default = predictor.reconstruct(compressed, 0.0, g)
    g.manual_seed(0)
    every = predictor.reconstruct(compressed, 0.0, g, visible_tasks=TASKS)
    for task in TASKS:
        torch.testing.assert_close(every[task], default[task])
    with pytest.raises(ValueError, match='unknown visible task'):
        predictor.hide_tasks(compressed, ['nromals'])
