from .multi_task_data_sample import (MultiTaskDataSample, stack_ground_truth,
                                     without_ground_truth)
from .relation_outputs import (RELATION_OUTPUTS, RELATION_SPACES,
                               RelationConsistency, RelationViews)
from .task_maps import IGNORE_INDEX, TaskMapSpec, task_map_spec

__all__ = [
    'MultiTaskDataSample', 'stack_ground_truth', 'without_ground_truth',
    'IGNORE_INDEX',
    'TaskMapSpec', 'task_map_spec', 'RELATION_OUTPUTS', 'RELATION_SPACES',
    'RelationConsistency', 'RelationViews'
]
