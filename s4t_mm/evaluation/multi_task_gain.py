"""The multi-task gain delta_m, and what it reads from the registered task
specs and evaluators: which way each metric improves and which metric of
each task enters it (the math of each metric is in :mod:`.functional`)."""
import warnings
from typing import Dict, List, Optional, Sequence, Tuple

from s4t_mm.registry import TASK_EVALUATORS
from s4t_mm.tasks import task_specs


def metric_directions() -> Dict[str, str]:
    """``{'<task>/<score>': 'higher' | 'lower'}``: which way each metric key
    of a task with an evaluator improves (the evaluator's ``directions``),
    and ``'delta_m'``. delta_m reads the sign from here."""
    directions = {
        f'{task}/{name}': direction
        for task, evaluator in evaluated_tasks().items()
        for name, direction in evaluator.directions.items()
    }
    directions['delta_m'] = 'higher'
    return directions


def delta_m_candidates() -> Dict[str, Tuple[str, ...]]:
    """``{task: metric keys}``: the keys delta_m may use for each task with
    an evaluator, in order of preference (its spec's ``delta_m_metrics``),
    in the order tasks are registered."""
    specs = task_specs()
    return {task: tuple(f'{task}/{name}'
                        for name in specs[task].delta_m_metrics)
            for task in evaluated_tasks()}


def evaluated_tasks() -> dict:
    """``{task: evaluator class}`` of every task spec naming an evaluator."""
    evaluators = {}
    for task, spec in task_specs().items():
        if spec.evaluator is None:
            continue
        evaluators[task] = TASK_EVALUATORS.get(spec.evaluator['type'])
        if evaluators[task] is None:
            raise KeyError(
                f'the task spec of {task!r} names the evaluator '
                f'{spec.evaluator["type"]!r}, which is not registered; '
                f'registered: {sorted(TASK_EVALUATORS.module_dict)}')
    return evaluators


_warned_outside_delta_m = set()


def delta_m_keys(metrics: Dict[str, float],
                 baseline: Dict[str, float]) -> List[str]:
    """One :func:`delta_m_candidates` key per task measured in both dicts.

    Raises when a task is measured in both but under different keys (e.g.
    aligned depth against unaligned), which would not compare like with like.
    A task measured in both that has no delta_m key (no evaluator in its
    spec, or no ``delta_m_metrics``) is left out with a warning.
    """
    candidates = delta_m_candidates()
    keys = []
    for task, names in candidates.items():
        in_metrics = [k for k in names if k in metrics]
        in_baseline = [k for k in names if k in baseline]
        if not in_metrics or not in_baseline:
            continue
        common = [k for k in in_metrics if k in in_baseline]
        if not common:
            raise ValueError(
                f'{task} is measured as {in_metrics} in the metrics but as '
                f'{in_baseline} in the baseline; evaluate both the same way')
        keys.append(common[0])
    measured = {k.split('/')[0] for k in metrics if '/' in k} & \
        {k.split('/')[0] for k in baseline if '/' in k}
    for task in sorted(measured - {k.split('/')[0] for k in keys}):
        if not candidates.get(task) and task not in _warned_outside_delta_m:
            _warned_outside_delta_m.add(task)
            warnings.warn(
                f'task {task!r} is measured but left out of delta_m: ' + (
                    'its task spec declares no delta_m_metrics'
                    if task in candidates else 'no task spec names an '
                    f'evaluator for it (evaluated: {sorted(candidates)})'))
    return keys


def delta_m(metrics: Dict[str, float],
            baseline: Dict[str, float],
            keys: Optional[Sequence[str]] = None) -> float:
    """Multi-task gain over a baseline, in percent.

    ``100 / T * sum_t (-1)^l_t (M_t - B_t) / B_t`` with ``l_t = 1`` when
    lower is better (:func:`metric_directions`), so improving any metric
    raises it. ``keys`` defaults to :func:`delta_m_keys`.
    """
    if keys is None:
        keys = delta_m_keys(metrics, baseline)
    if not keys:
        raise ValueError(
            f'no metric to compare: metrics and baseline share none of '
            f'{[k for c in delta_m_candidates().values() for k in c]}')
    directions = metric_directions()
    total = 0.0
    for key in keys:
        direction = metric_direction(key, directions)
        missing = [name for name, d in (('metrics', metrics),
                                        ('baseline', baseline))
                   if key not in d]
        if missing:
            raise KeyError(f'metric {key!r} missing from {missing}')
        if baseline[key] == 0:
            raise ValueError(f'baseline {key!r} is 0; delta_m divides by it')
        sign = -1.0 if direction == 'lower' else 1.0
        total += sign * (metrics[key] - baseline[key]) / baseline[key]
    return 100.0 * total / len(keys)


def metric_direction(key: str,
                     directions: Optional[Dict[str, str]] = None) -> str:
    """``'higher'`` or ``'lower'``: which way metric ``key`` improves."""
    directions = metric_directions() if directions is None else directions
    if key not in directions:
        raise KeyError(f'no direction known for metric {key!r}; known: '
                       f'{sorted(directions)}')
    return directions[key]
