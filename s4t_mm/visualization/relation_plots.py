"""Heat maps of task-relation matrices
(:mod:`s4t_mm.evaluation.task_relations`)."""
from typing import Dict, List, NamedTuple, Optional, Sequence

import numpy as np
from mmengine.visualization import Visualizer

from .figures import add_figure


class HeatmapPanel(NamedTuple):
    """One heat map: a (T, T) relation matrix or a difference of two, and
    optional per-column notes shown under the task names (e.g. the
    all-task gain)."""
    title: str
    matrix: np.ndarray
    difference: bool = False
    column_notes: Optional[Sequence[str]] = None


#: Fixed colour ranges, so heat maps compare across domains and iterations;
#: colours saturate outside them, the printed numbers are exact.
RELATION_RANGE = (-0.5, 1.5)
DIFFERENCE_RANGE = (-1.0, 1.0)


def gain_notes(record: Dict[str, object]) -> List[str]:
    """Per-column ``gain +67%`` notes of a
    :func:`~s4t_mm.evaluation.task_relations.relation_record`."""
    return [f'gain {g:+.0%}' for g in record['all_task_gain']]


def relation_figure(tasks: Sequence[str], panels: Sequence[HeatmapPanel]):
    """The panels' heat maps side by side, each cell annotated with its
    value (colour ranges: :data:`RELATION_RANGE`,
    :data:`DIFFERENCE_RANGE`)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    size = 1.2 + 0.75 * len(tasks)
    fig = Figure(figsize=(size * len(panels) + 1.0, size + 0.9), dpi=100)
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(panels), squeeze=False)
    for ax, panel in zip(axes[0], panels):
        cmap, (lo, hi) = ('RdBu_r', DIFFERENCE_RANGE) if panel.difference \
            else ('viridis', RELATION_RANGE)
        image = ax.imshow(panel.matrix, cmap=cmap, vmin=lo, vmax=hi)
        labels = list(tasks) if panel.column_notes is None else [
            f'{t}\n{n}' for t, n in zip(tasks, panel.column_notes)]
        ax.set_xticks(range(len(tasks)), labels, fontsize=8)
        ax.set_yticks(range(len(tasks)), tasks, fontsize=8)
        ax.set_xlabel('reconstructed task j', fontsize=8)
        ax.set_ylabel('visible task i', fontsize=8)
        ax.set_title(panel.title, fontsize=9)
        for (i, j), v in np.ndenumerate(panel.matrix):
            # dark text on the light part of each colour map
            shade = np.clip((v - lo) / (hi - lo), 0, 1)
            light = abs(shade - 0.5) < 0.3 if panel.difference \
                else shade > 0.6
            ax.text(j, i, 'nan' if np.isnan(v) else f'{v:.2f}',
                    ha='center', va='center', fontsize=7,
                    color='black' if light else 'white')
        fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, extend='both')
    fig.tight_layout()
    return fig


def plot_relations(tasks: Sequence[str], panels: Sequence[HeatmapPanel],
                   out_file: Optional[str] = None,
                   visualizer: Optional[Visualizer] = None,
                   name: str = 'relations', step: int = 0) -> np.ndarray:
    """Draw :func:`relation_figure` as image ``name`` at ``step`` into the
    backends of ``visualizer`` and, with ``out_file``, into that PNG
    (atomically); see :func:`~s4t_mm.visualization.figures.add_figure`.
    Returns the RGB image."""
    return add_figure(relation_figure(tasks, panels), name, visualizer,
                      out_file, step)
