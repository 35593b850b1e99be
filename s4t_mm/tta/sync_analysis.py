"""Task synchronisation: at which adaptation step each task's metric peaks.

The paper's motivating observation is that under conventional test-time
training the tasks' metrics peak at different steps. Here a report holds each
task's metric every ``k`` adaptation steps (scored on labelled target data
that the adapter never sees), its best step, the spread of the best steps
across tasks, and each task's self-supervised loss per step;
:func:`plot_sync` draws the per-task curves and :func:`run_sync_analysis`
produces reports for a config's target domains.
"""
import copy
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence

from mmengine.config import Config
from mmengine.dist import is_main_process
from mmengine.logging import print_log

from s4t_mm.apis.adaptation import (build_runner, evaluate_domain,
                                    tta_hook_cfg, with_seed)
from s4t_mm.evaluation.functional import delta_m_keys, metric_direction

SYNC_HOOK_TYPES = ('TaskSyncHook', 's4t_mm.TaskSyncHook')


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
            found (:func:`~s4t_mm.evaluation.functional.delta_m_keys`).
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


def plot_sync(report: dict, out_file: str, title: str = '') -> str:
    """Write a PNG of each task's normalised metric against the adaptation
    step (and, beside it, each task's self-supervised loss relative to its
    first step when the report has losses). Returns ``out_file``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    panels = [p for p, present in (('metrics', report.get('keys')),
                                   ('losses', report.get('losses')))
              if present]
    if not panels:
        raise ValueError('the report has neither metrics nor losses to plot')
    fig = Figure(figsize=(5.5 * len(panels), 4), dpi=100)
    FigureCanvasAgg(fig)
    for i, panel in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), i + 1)
        if panel == 'metrics':
            for key in report['keys']:
                line, = ax.plot(report['steps'], report['normalised'][key],
                                marker='o', label=key)
                ax.axvline(report['best_step'][task_of(key)],
                           color=line.get_color(), linestyle=':', alpha=0.7)
            ax.axhline(0.0, color='grey', linewidth=0.8)
            ax.set_ylabel('relative improvement over step 0 (%, up = '
                          'better)')
            ax.set_title(f'{title} best-step spread {report["spread"]}'
                         .strip())
        else:
            for task, values in report['losses'].items():
                first = values[0] if values[0] != 0 else 1.0
                ax.plot(range(1, len(values) + 1),
                        [v / first for v in values], label=task)
            ax.set_ylabel('self-supervised loss / loss at step 1')
        ax.set_xlabel('adaptation step')
        ax.legend(fontsize=8)
    fig.tight_layout()
    os.makedirs(osp.dirname(osp.abspath(out_file)), exist_ok=True)
    fig.savefig(out_file)
    return out_file


def with_sync_hook(cfg: Config, interval: int,
                   steps: Optional[int] = None,
                   tolerance: float = 0.0) -> Config:
    """A copy of ``cfg`` with an analysing :class:`TaskSyncHook` and,
    if given, the paper protocol's step count set to ``steps``."""
    cfg = copy.deepcopy(cfg)
    tta = tta_hook_cfg(cfg)
    if tta is None:
        raise ValueError('the config has no TestTimeAdaptHook in '
                         'custom_hooks; there is no adaptation to analyse')
    protocol = tta.get('protocol', 'episodic')
    protocol = dict(type=protocol) if isinstance(protocol, str) else protocol
    if protocol.get('type') != 'paper':
        raise ValueError(f'the synchronisation analysis needs the paper '
                         f'protocol (adapt, then evaluate), the config uses '
                         f'{protocol.get("type")!r}')
    if steps is not None:
        protocol['steps'] = steps
    tta['protocol'] = protocol
    cfg.custom_hooks = [
        h for h in cfg.custom_hooks if h.get('type') not in SYNC_HOOK_TYPES
    ] + [dict(type='TaskSyncHook', interval=interval, analysis=True,
              tolerance=tolerance, plot=False)]
    return cfg


def run_sync_analysis(cfg: Config, checkpoint: str, domains: Sequence[dict],
                      steps: Optional[int], interval: int, seed: int,
                      work_dir: str, name: str = 'sync',
                      plot_dir: Optional[str] = None,
                      tolerance: float = 0.0) -> Dict[str, dict]:
    """Reset, adapt step by step and score every ``interval`` steps, on each
    domain; one runner walks the domains as
    :func:`s4t_mm.apis.adaptation.run_domains` does. ``seed`` sets the
    adaptation's random draws and batch (:func:`with_seed`).

    Returns ``{domain: sync_report}``; with ``plot_dir`` each domain's plot
    is written there as ``sync_<name>_<domain>.png`` (path under
    ``'plot'`` in its report).
    """
    # the engine imports this module
    from s4t_mm.engine.hooks.task_sync_hook import TaskSyncHook
    run_cfg = with_sync_hook(with_seed(cfg, seed), interval, steps,
                             tolerance)
    runner = build_runner(run_cfg, checkpoint, domains, seed, work_dir, name)
    hook = next(h for h in runner.hooks if isinstance(h, TaskSyncHook))
    reports = {}
    for domain in domains:
        evaluate_domain(runner, run_cfg, domain)
        report = dict(hook.reports[-1])
        if plot_dir is not None and is_main_process():
            report['plot'] = plot_sync(
                report, osp.join(plot_dir,
                                 f'sync_{name}_{domain["name"]}.png'),
                title=f'{name} {domain["name"]}:')
        reports[domain['name']] = report
        print_log(f'[{name}] {domain["name"]}: best step per task '
                  f'{report["best_step"]}, spread {report["spread"]}',
                  logger='current')
    return reports
