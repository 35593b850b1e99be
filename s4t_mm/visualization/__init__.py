from .multi_task_visualizer import (IGNORE_COLOR, STYLES, TASK_STYLES,
                                    MultiTaskVisualizer, shared_range)

__all__ = [
    'IGNORE_COLOR', 'STYLES', 'TASK_STYLES', 'MultiTaskVisualizer',
    'shared_range'
]
