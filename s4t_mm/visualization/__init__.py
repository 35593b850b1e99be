from .multi_task_visualizer import (IGNORE_COLOR, STYLES, TASK_STYLES,
                                    MultiTaskVisualizer, shared_range)
from .sync_plots import plot_sync

__all__ = [
    'IGNORE_COLOR', 'STYLES', 'TASK_STYLES', 'MultiTaskVisualizer',
    'plot_sync', 'shared_range'
]
