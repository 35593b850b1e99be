"""Task synchronisation: at which adaptation step each task's metric peaks.

The paper's motivating observation is that under conventional test-time
training the tasks' metrics peak at different steps. Here a report holds each
task's metric every ``k`` adaptation steps (scored on labelled target data
that the adapter never sees), its best step, the spread of the best steps
across tasks, and each task's self-supervised loss per step.
:class:`~s4t_mm.engine.hooks.TaskSyncHook` records the points,
:func:`s4t_mm.visualization.plot_sync` draws the curves and
:func:`s4t_mm.apis.run_sync_analysis` produces reports for a config's target
domains.
"""
from typing import Dict, List, Optional, Sequence

from .multi_task_gain import delta_m_keys, metric_direction


def task_of(name: str) -> str:
    """``'semseg/mIoU'`` and ``'semseg.s4t'`` belong to ``'semseg'``."""
    return name.replace('.', '/').split('/')[0]


def best_steps(steps: Sequence[int], metrics: Sequence[Dict[str, float]],
               keys: Sequence[str],
               tolerance: float = 0.0) -> Dict[str, int]:
    """The step at which each metric key is best: the earliest step whose
    relative improvement over step 0 (:func:`relative_improvement`, in
    percent) is within ``tolerance`` percentage points of the best one.

    ``tolerance=0`` gives the (earliest) argmax; a small positive tolerance
    keeps the noise on a plateau from deciding the best step.
    """
    if len(steps) != len(metrics) or not steps:
        raise ValueError(f'need one metrics dict per step, got {len(steps)} '
                         f'steps and {len(metrics)} dicts')
    if tolerance < 0:
        raise ValueError(f'tolerance must be >= 0, got {tolerance}')
    best = {}
    for key, curve in relative_improvement(metrics, keys).items():
        top = max(curve)
        best[key] = int(next(s for s, v in zip(steps, curve)
                             if v >= top - tolerance))
    return best


def relative_improvement(metrics: Sequence[Dict[str, float]],
                         keys: Sequence[str]) -> Dict[str, List[float]]:
    """``100 * (m_s - m_0) / |m_0|`` per key and step, signed so that up is
    better for every metric (the paper's normalised metric curve)."""
    curves = {}
    for key in keys:
        sign = -1.0 if metric_direction(key) == 'lower' else 1.0
        first = metrics[0][key]
        scale = abs(first) if first != 0 else 1.0
        curves[key] = [100.0 * sign * (m[key] - first) / scale
                       for m in metrics]
    return curves


def task_losses(losses: Sequence[Dict[str, float]]) -> Dict[str, List[float]]:
    """Per step loss terms (``'semseg.s4t'``, ...) summed per task (the part
    of the name before the first dot)."""
    names = sorted({task_of(k) for step in losses for k in step})
    return {
        name: [sum(v for k, v in step.items() if task_of(k) == name)
               for step in losses]
        for name in names
    }


def sync_report(steps: Sequence[int],
                metrics: Sequence[Dict[str, float]],
                keys: Optional[Sequence[str]] = None,
                losses: Sequence[Dict[str, float]] = (),
                tolerance: float = 0.0) -> dict:
    """Best step per task, their spread and the normalised curves.

    Args:
        steps: adaptation steps at which ``metrics`` were measured, the
            first one before adapting (step 0).
        metrics: one metrics dict per step.
        keys: one metric per task; default the delta_m metric of every task
            found (:func:`~s4t_mm.evaluation.multi_task_gain.delta_m_keys`).
        losses: self-supervised loss terms of every adaptation step.
        tolerance: of :func:`best_steps`, in percentage points.

    Returns:
        dict with ``steps``, ``keys``, ``metrics`` (per key, per step),
        ``normalised`` (per key, :func:`relative_improvement`),
        ``best_step`` (per task), ``spread`` (max - min of the best steps)
        ``tolerance`` and ``losses`` (per task, per step).
    """
    if keys is None:
        keys = delta_m_keys(metrics[0], metrics[0])
    best = best_steps(steps, metrics, keys, tolerance)
    best_by_task = {task_of(k): s for k, s in best.items()}
    return dict(
        steps=[int(s) for s in steps],
        keys=list(keys),
        metrics={k: [float(m[k]) for m in metrics] for k in keys},
        normalised=relative_improvement(metrics, keys),
        best_step=best_by_task,
        spread=int(max(best.values()) - min(best.values())) if best else 0,
        tolerance=tolerance,
        losses=task_losses(losses))
