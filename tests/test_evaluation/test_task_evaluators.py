"""Task evaluators are registered per task and declare their metrics."""
import logging

import pytest
import torch

from s4t_mm.evaluation import MultiTaskMetric
from s4t_mm.evaluation import functional as F
from s4t_mm.evaluation.metrics import multi_task_metric
from s4t_mm.evaluation.task_evaluators import TaskEvaluator
from s4t_mm.registry import TASK_EVALUATORS
from .test_multi_task_metric import evaluate, tiny_sample


def test_every_evaluator_declares_its_metrics_and_delta_m_metric():
    for task in ('semseg', 'human_parts', 'depth', 'normals', 'edge',
                 'saliency'):
        cls = TASK_EVALUATORS.get(task)
        assert issubclass(cls, TaskEvaluator), task
        assert cls.delta_m_metrics, task
        assert set(cls.delta_m_metrics) <= set(cls.directions), task
        assert set(cls.directions.values()) <= {'higher', 'lower'}, task
    directions = F.metric_directions()
    assert directions['depth/rmse_batch_aligned'] == 'lower'
    assert directions['normals/within_11.25'] == 'higher'
    assert F.delta_m_candidates()['edge'][0] == 'edge/odsF_tol'


def test_a_task_without_an_evaluator_is_skipped_with_a_warning(monkeypatch):
    logged = []
    monkeypatch.setattr(multi_task_metric, 'print_log',
                        lambda msg, **kwargs: logged.append((msg, kwargs)))
    sample = tiny_sample(('semseg', ))
    sample.set_pred('glossiness', torch.zeros(1, 2, 3))
    sample.set_gt('glossiness', torch.zeros(1, 2, 3))
    out = evaluate(MultiTaskMetric(num_classes=dict(semseg=3)),
                   [sample, sample.clone()])
    assert sorted(out) == ['semseg/aAcc', 'semseg/mAcc', 'semseg/mIoU']
    warned = [(msg, kw) for msg, kw in logged if "'glossiness'" in msg]
    assert len(warned) == 1 and warned[0][1]['level'] == logging.WARNING
    assert 'no evaluator registered' in warned[0][0]
    with pytest.raises(KeyError, match="no evaluator for task 'glossiness'"):
        MultiTaskMetric(tasks=['glossiness'])


def test_a_measured_task_left_out_of_delta_m_is_warned_about():
    @TASK_EVALUATORS.register_module(name='roughness', force=True)
    class RoughnessEvaluator(TaskEvaluator):
        directions = dict(l1='lower')

    try:
        metrics = {'semseg/mIoU': 50.0, 'roughness/l1': 0.1}
        base = {'semseg/mIoU': 40.0, 'roughness/l1': 0.2}
        with pytest.warns(UserWarning, match="'roughness' is measured but "
                          'left out of delta_m: its evaluator declares no '
                          'delta_m_metrics'):
            assert F.delta_m_keys(metrics, base) == ['semseg/mIoU']
        assert F.metric_direction('roughness/l1') == 'lower'
    finally:
        TASK_EVALUATORS.module_dict.pop('roughness')
