"""Task specs name their evaluators, which declare their metrics."""
import logging

import pytest
import torch

from s4t_mm.evaluation import MultiTaskMetric
from s4t_mm.evaluation import multi_task_gain as gain
from s4t_mm.evaluation.metrics import multi_task_metric
from s4t_mm.evaluation.task_evaluators import TaskEvaluator
from s4t_mm.registry import TASK_EVALUATORS, TASKS
from s4t_mm.tasks import TaskSpec, task_spec
from .test_multi_task_metric import evaluate, tiny_sample


def test_every_evaluator_declares_its_metrics_and_delta_m_metric():
    for task in ('semseg', 'human_parts', 'depth', 'normals', 'edge',
                 'saliency'):
        spec = task_spec(task)
        cls = TASK_EVALUATORS.get(spec.evaluator['type'])
        assert issubclass(cls, TaskEvaluator), task
        assert spec.delta_m_metrics, task
        assert set(spec.delta_m_metrics) <= set(cls.directions), task
        assert set(cls.directions.values()) <= {'higher', 'lower'}, task
    assert list(gain.delta_m_candidates()) == [
        'semseg', 'human_parts', 'depth', 'normals', 'edge', 'saliency']
    directions = gain.metric_directions()
    assert directions['depth/rmse_batch_aligned'] == 'lower'
    assert directions['normals/within_11.25'] == 'higher'
    assert gain.delta_m_candidates()['edge'][0] == 'edge/odsF_tol'


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
    @TASK_EVALUATORS.register_module(force=True)
    class RoughnessEvaluator(TaskEvaluator):
        directions = dict(l1='lower')

    @TASKS.register_module(name='roughness', force=True)
    class RoughnessTask(TaskSpec):
        evaluator = dict(type='RoughnessEvaluator')

    try:
        metrics = {'semseg/mIoU': 50.0, 'roughness/l1': 0.1}
        base = {'semseg/mIoU': 40.0, 'roughness/l1': 0.2}
        with pytest.warns(UserWarning, match="'roughness' is measured but "
                          'left out of delta_m: its task spec declares no '
                          'delta_m_metrics'):
            assert gain.delta_m_keys(metrics, base) == ['semseg/mIoU']
        assert gain.metric_direction('roughness/l1') == 'lower'
    finally:
        TASKS.module_dict.pop('roughness')
        TASK_EVALUATORS.module_dict.pop('RoughnessEvaluator')


def test_a_spec_naming_an_unregistered_evaluator_is_an_error():
    @TASKS.register_module(name='gloss', force=True)
    class GlossTask(TaskSpec):
        evaluator = dict(type='GlossEvaluator')

    try:
        with pytest.raises(KeyError, match="'gloss' names the evaluator "
                           "'GlossEvaluator', which is not registered"):
            gain.metric_directions()
    finally:
        TASKS.module_dict.pop('gloss')


def test_l1_evaluator_pools_labelled_values():
    evaluator = TASK_EVALUATORS.build(dict(type='L1Evaluator'))
    pred = torch.tensor([[[0.5, 1.0], [0.0, 2.0]]])
    gt = torch.tensor([[[0.0, 1.0], [255.0, 0.0]]])
    other = evaluator.stats(torch.ones(1, 1, 2), torch.zeros(1, 1, 2))
    scores = evaluator.scores([evaluator.stats(pred, gt), other])
    assert scores == dict(l1=pytest.approx((0.5 + 0 + 2 + 1 + 1) / 5))
