from .figures import add_figure, figure_to_rgb, publish_image
from .multi_task_visualizer import (IGNORE_COLOR, STYLES, TASK_STYLES,
                                    MultiTaskVisualizer, shared_range)
from .norm_shift_plots import norm_shift_figure, plot_norm_shift
from .relation_plots import (DIFFERENCE_RANGE, RELATION_RANGE, HeatmapPanel,
                             gain_notes, plot_relations, relation_figure)
from .sync_plots import plot_sync, sync_figure

__all__ = [
    'DIFFERENCE_RANGE', 'HeatmapPanel', 'IGNORE_COLOR', 'RELATION_RANGE',
    'STYLES', 'TASK_STYLES', 'MultiTaskVisualizer', 'add_figure',
    'figure_to_rgb', 'gain_notes', 'norm_shift_figure', 'plot_norm_shift',
    'plot_relations', 'plot_sync', 'publish_image',
    'relation_figure', 'shared_range', 'sync_figure'
]
