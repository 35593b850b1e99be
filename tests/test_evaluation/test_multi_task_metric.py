"""MultiTaskMetric through the MultiTaskDataSample -> to_dict() path."""
import json
import math

import numpy as np
import pytest
import torch
from mmengine.evaluator import Evaluator

from s4t_mm.evaluation import METRIC_DIRECTIONS, MultiTaskMetric
from s4t_mm.registry import METRICS
from s4t_mm.structures import MultiTaskDataSample

IGN = 255


def tiny_sample(tasks=('semseg', 'depth', 'normals', 'edge', 'saliency'),
                gt_tasks=None):
    """2x3 maps whose metrics are worked out by hand in the tests below."""
    maps = dict(
        semseg=(torch.tensor([[[0, 1, 1], [1, 2, 0]]]),
                torch.tensor([[[0, 0, 1], [1, IGN, 2]]])),
        human_parts=(torch.tensor([[[1, 1, 0], [0, 0, 0]]]),
                     torch.tensor([[[1, 1, 1], [0, IGN, IGN]]])),
        depth=(torch.tensor([[[2., 2., 7.], [2., 1., 3.]]]),
               torch.tensor([[[1., 2., IGN], [4., 1., 2.]]])),
        edge=(torch.tensor([[[0.2, 0.7, 0.9], [0.0, 1.0, 0.4]]]),
              torch.tensor([[[0., 1., IGN], [0., 1., 0.]]])),
        saliency=(torch.tensor([[[0.9, 0.4, 0.6], [0.1, 0.99, 0.7]]]),
                  torch.tensor([[[1., 1., 0.], [0., IGN, 1.]]])))
    gt_normals = torch.zeros(3, 2, 3)
    gt_normals[2] = -1
    gt_normals[:, 1, 2] = IGN
    pred_normals = gt_normals.clone()
    pred_normals[:, 0, 1] = torch.tensor([1., 0., 0.])  # 90 degrees off
    pred_normals[:, 1, 2] = 1.
    maps['normals'] = (pred_normals, gt_normals)
    sample = MultiTaskDataSample(metainfo=dict(img_path='tiny'))
    for task in tasks:
        pred, gt = maps[task]
        sample.set_pred(task, pred)
        if gt_tasks is None or task in gt_tasks:
            sample.set_gt(task, gt)
    return sample


def evaluate(metric, samples):
    metric.process({}, [s.to_dict() for s in samples])
    return metric.evaluate(len(samples))


def test_build_from_registry_and_hand_computed_values():
    metric = METRICS.build(
        dict(type='MultiTaskMetric', num_classes=dict(semseg=3)))
    out = evaluate(metric, [tiny_sample()])
    expected = {
        'semseg/mIoU': 100 / 3,
        'semseg/aAcc': 60.0,
        'semseg/mAcc': 50.0,
        'depth/rmse': math.sqrt(6 / 5),
        'depth/abs_rel': 0.4,
        'depth/log_rmse': math.sqrt(
            (2 * math.log(2)**2 + math.log(1.5)**2) / 5),
        'normals/mean': 18.0,  # one of five valid pixels is 90 degrees off
        'normals/rmse': math.sqrt(90**2 / 5),
        'normals/within_11.25': 80.0,
        'normals/within_22.5': 80.0,
        'normals/within_30': 80.0,
        'edge/l1': 0.18,
        # thresholds k/100: best at 0.61..0.70, P 1 R 2/3
        'saliency/maxF': 100 * 1.3 * (2 / 3) / (0.3 + 2 / 3),
    }
    assert out.pop('normals/median') == pytest.approx(0, abs=0.006)
    assert out == pytest.approx(expected)


def test_through_mmengine_evaluator():
    """The Evaluator converts data samples with to_dict() itself."""
    evaluator = Evaluator(dict(type='MultiTaskMetric', tasks=['edge']))
    evaluator.process([tiny_sample(('edge', ))], data_batch={})
    assert evaluator.evaluate(1) == pytest.approx({'edge/l1': 0.18})


def test_semseg_classes_from_dataset_meta_and_human_parts():
    metric = MultiTaskMetric(num_classes=dict(human_parts=2))
    metric.dataset_meta = dict(classes=('a', 'b', 'c'))
    out = evaluate(metric, [tiny_sample(('semseg', 'human_parts'))])
    assert out['semseg/mIoU'] == pytest.approx(100 / 3)
    # human parts: class 0 IoU 1/2, class 1 IoU 2/3
    assert out['human_parts/mIoU'] == pytest.approx(100 * (1 / 2 + 2 / 3) / 2)
    assert out['human_parts/aAcc'] == pytest.approx(75.0)


def test_missing_num_classes():
    with pytest.raises(ValueError, match=r'semseg.*num_classes=dict\(semseg'):
        evaluate(MultiTaskMetric(), [tiny_sample(('semseg', ))])


def test_aligned_keys():
    metric = MultiTaskMetric(
        tasks=['depth', 'edge'],
        depth_align='scale_shift',
        edge_align='scale_shift')
    sample = tiny_sample(('depth', 'edge'))
    # make both predictions affine in the gt: alignment removes the error
    for task in ('depth', 'edge'):
        gt = sample.gt(task)
        sample.set_pred(task, torch.where(gt == IGN, 0.5, 0.3 * gt + 0.1))
    out = evaluate(metric, [sample])
    assert set(out) == {'depth/rmse_aligned', 'depth/abs_rel_aligned',
                        'depth/log_rmse_aligned', 'edge/l1_aligned'}
    assert out['depth/rmse_aligned'] == pytest.approx(0, abs=1e-6)
    assert out['edge/l1_aligned'] == pytest.approx(0, abs=1e-6)
    with pytest.raises(ValueError, match=r"depth_align 'scale'.*scale_shift"):
        MultiTaskMetric(depth_align='scale')


def test_edge_odsf_and_every_key_has_a_direction():
    metric = MultiTaskMetric(
        num_classes=dict(semseg=3, human_parts=2), edge_odsf=True,
        edge_thresholds=[0.5], edge_thin=False, edge_tolerance_f=True,
        edge_tolerance_px=0)
    out = evaluate(metric, [tiny_sample(
        ('semseg', 'human_parts', 'depth', 'normals', 'edge', 'saliency'))])
    # edge gt (0,1) (1,1); at 0.5 predictions (0,1) (1,1): the ignored
    # pixel's 0.9 does not count
    assert out['edge/odsF'] == pytest.approx(100.0)
    assert out['edge/odsF_tol'] == pytest.approx(100.0)
    aligned = evaluate(MultiTaskMetric(depth_align='scale_shift',
                                       edge_align='scale_shift'),
                       [tiny_sample(('depth', 'edge'))])
    batch_aligned = evaluate(MultiTaskMetric(depth_align='scale_shift',
                                             edge_align='scale_shift',
                                             alignment='per_batch'),
                             [tiny_sample(('depth', 'edge'))])
    keys = set(out) | set(aligned) | set(batch_aligned)
    assert keys <= set(METRIC_DIRECTIONS)
    assert set(METRIC_DIRECTIONS) - keys == {'delta_m'}


def test_task_cfgs_and_the_older_keywords_give_the_same_numbers():
    sample = tiny_sample(('semseg', 'depth', 'normals', 'edge', 'saliency'))
    old = MultiTaskMetric(
        num_classes=dict(semseg=3), depth_align='scale_shift',
        edge_align='scale_shift', alignment='per_batch', edge_pred='logit',
        edge_tolerance_f=True, edge_tolerance_px=0, absent_class_iou=0.0,
        saliency_thresholds=[0.5], normals_bin_deg=0.1)
    new = MultiTaskMetric(
        num_classes=dict(semseg=3), alignment='per_batch',
        task_cfgs=dict(
            depth=dict(align='scale_shift'),
            edge=dict(align='scale_shift', l1_input='logit',
                      tolerance_f=True, tolerance_px=0),
            semseg=dict(absent_iou=0.0), human_parts=dict(absent_iou=0.0),
            saliency=dict(thresholds=[0.5]), normals=dict(bin_deg=0.1)))
    assert old.task_cfgs == new.task_cfgs
    old_out = evaluate(old, [sample, sample.clone()])
    assert old_out == evaluate(new, [sample, sample.clone()])
    assert 'edge/odsF_tol' in old_out and 'depth/rmse_batch_aligned' in \
        old_out
    assert old._evaluators['human_parts'].absent_iou == 0.0
    with pytest.raises(ValueError, match=r"edge_thin=False and "
                       r"task_cfgs\['edge'\]\['thin'\]=True both set it"):
        MultiTaskMetric(edge_thin=False, task_cfgs=dict(edge=dict(thin=True)))
    with pytest.raises(TypeError, match=r"\['edge_tolerance'\].*task_cfgs"):
        MultiTaskMetric(edge_tolerance=1)
    with pytest.raises(KeyError, match="'edges'.*edge"):
        MultiTaskMetric(task_cfgs=dict(edges=dict(thin=True)))
    with pytest.raises(ValueError, match="unknown alignment 'batch'"):
        MultiTaskMetric(task_cfgs=dict(depth=dict(scope='batch')))


def test_split_processing_equals_one_pass():
    """Stats gathered from two 'ranks' reduce to the one-pass metrics."""
    rng = torch.Generator().manual_seed(0)
    samples = []
    for _ in range(4):
        s = tiny_sample()
        s.set_pred('depth', torch.rand(1, 2, 3, generator=rng) * 4 + 0.5)
        s.set_pred('semseg', torch.randint(0, 3, (1, 2, 3), generator=rng))
        s.set_pred('edge', torch.rand(1, 2, 3, generator=rng))
        s.set_pred('normals', torch.randn(3, 2, 3, generator=rng))
        samples.append(s.to_dict())
    kwargs = dict(num_classes=dict(semseg=3), edge_odsf=True)
    whole, first, second = (MultiTaskMetric(**kwargs) for _ in range(3))
    whole.process({}, samples)
    first.process({}, samples[:2])
    second.process({}, samples[2:])
    # mmengine's collect_results interleaves the ranks' parts
    gathered = [first.results[0], second.results[0], first.results[1],
                second.results[1]]
    assert whole.compute_metrics(gathered) == pytest.approx(
        whole.compute_metrics(whole.results), nan_ok=True)
    # only small per-image statistics are kept, never tensors or maps
    for entry in gathered:
        for stats in entry.values():
            for value in stats.values():
                assert not isinstance(value, torch.Tensor)
                assert np.size(value) <= 99


def test_sample_without_gt_is_skipped_for_that_task():
    metric = MultiTaskMetric(tasks=['depth', 'edge'])
    samples = [tiny_sample(('depth', 'edge')),
               tiny_sample(('depth', 'edge'), gt_tasks=['edge'])]
    metric.process({}, [s.to_dict() for s in samples])
    assert [sorted(entry) for entry in metric.results] == [
        ['depth', 'edge'], ['edge']]
    out = metric.evaluate(2)
    assert out['depth/rmse'] == pytest.approx(math.sqrt(6 / 5))
    assert out['edge/l1'] == pytest.approx(0.18)


def test_listed_task_without_prediction():
    sample = tiny_sample(('depth', ))
    sample.set_gt('edge', torch.zeros(1, 2, 3))
    with pytest.raises(KeyError, match=r"\['edge'\].*\['depth'\]"):
        evaluate(MultiTaskMetric(tasks=['depth', 'edge']), [sample])
    # without a task list, a gt-only task is not evaluated
    assert set(evaluate(MultiTaskMetric(), [sample])) == {
        'depth/rmse', 'depth/abs_rel', 'depth/log_rmse'}


def test_input_errors():
    sample = tiny_sample(('depth', ))
    sample.set_pred('depth', torch.ones(1, 3, 2))
    with pytest.raises(ValueError,
                       match=r'depth: prediction shape \(1, 3, 2\) differs '
                       r'from gt shape \(1, 2, 3\)'):
        evaluate(MultiTaskMetric(), [sample])
    sample = tiny_sample(('semseg', ))
    sample.set_pred('semseg', torch.full((1, 2, 3), 5))
    with pytest.raises(ValueError, match=r'semseg: pred class id 5 outside '
                       r'\[0, 3\)'):
        evaluate(MultiTaskMetric(num_classes=dict(semseg=3)), [sample])
    with pytest.raises(KeyError, match="'nromals'.*normals"):
        MultiTaskMetric(tasks=['nromals'])


BASELINE = {'semseg/mIoU': 50.0, 'depth/rmse': 1.0, 'edge/l1': 0.2}


def test_delta_m_against_baseline_dict():
    metric = MultiTaskMetric(num_classes=dict(semseg=3), baseline=BASELINE)
    out = evaluate(metric, [tiny_sample(('semseg', 'depth', 'edge'))])
    expected = 100 / 3 * ((100 / 3 - 50) / 50 - (math.sqrt(1.2) - 1) / 1 -
                          (0.18 - 0.2) / 0.2)
    assert out['delta_m'] == pytest.approx(expected)


@pytest.mark.parametrize('nested', [False, True])
def test_baseline_from_json(tmp_path, nested):
    path = tmp_path / 'source_only.json'
    content = {'metrics': BASELINE, 'config': 'x'} if nested else BASELINE
    path.write_text(json.dumps(content))
    metric = MultiTaskMetric(tasks=['edge'], baseline=str(path))
    out = evaluate(metric, [tiny_sample(('edge', ))])
    assert out['delta_m'] == pytest.approx(10.0)  # l1 0.2 -> 0.18


def test_baseline_with_prefix_and_stored_delta_m():
    baseline = {'mt/edge/l1': 0.2, 'mt/delta_m': 3.0}
    metric = MultiTaskMetric(tasks=['edge'], baseline=baseline, prefix='mt')
    out = evaluate(metric, [tiny_sample(('edge', ))])
    assert out == pytest.approx({'mt/edge/l1': 0.18, 'mt/delta_m': 10.0})


def test_baseline_errors():
    with pytest.raises(KeyError, match=r"\['depth/RMSE'\].*'depth/rmse'"):
        MultiTaskMetric(baseline={'depth/RMSE': 1.0})
    with pytest.raises(ValueError, match='numbers'):
        MultiTaskMetric(baseline={'depth/rmse': 'low'})
    with pytest.raises(KeyError, match=r"\['miou'\] in delta_m_keys"):
        MultiTaskMetric(delta_m_keys=['miou'])
