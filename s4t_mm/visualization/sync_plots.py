"""Plots of a task-synchronisation report
(:func:`s4t_mm.evaluation.task_sync.sync_report`)."""
from typing import Optional

from mmengine.visualization import Visualizer

from s4t_mm.evaluation.task_sync import task_of
from .figures import add_figure


def sync_figure(report: dict, title: str = ''):
    """A figure of each task's normalised metric against the adaptation
    step (and, beside it, each task's self-supervised loss relative to its
    first step when the report has losses)."""
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
    return fig


def plot_sync(report: dict, out_file: Optional[str] = None, title: str = '',
              visualizer: Optional[Visualizer] = None,
              name: str = 'task_sync', step: int = 0) -> Optional[str]:
    """Draw :func:`sync_figure` as image ``name`` at ``step`` into the
    backends of ``visualizer`` and, with ``out_file``, into that PNG
    (atomically); see :func:`~s4t_mm.visualization.figures.add_figure`.
    Returns ``out_file``."""
    add_figure(sync_figure(report, title), name, visualizer, out_file, step)
    return out_file
