from .multi_task_data_sample import MultiTaskDataSample, without_ground_truth
from .task_maps import IGNORE_INDEX, TaskMapSpec, task_map_spec

__all__ = [
    'MultiTaskDataSample', 'without_ground_truth', 'IGNORE_INDEX',
    'TaskMapSpec', 'task_map_spec'
]
