from .multi_task_visualization_hook import (MultiTaskVisualizationHook,
                                            compose_comparisons,
                                            with_visualization_hook)
from .norm_calibration_hook import NormCalibrationHook
from .task_relation_hook import TaskRelationHook
from .task_sync_hook import TaskSyncHook
from .test_time_adapt_hook import TestTimeAdaptHook
from .train_progress_hook import TrainProgressHook

__all__ = [
    'MultiTaskVisualizationHook', 'NormCalibrationHook', 'compose_comparisons',
    'with_visualization_hook', 'TaskRelationHook', 'TaskSyncHook',
    'TestTimeAdaptHook', 'TrainProgressHook'
]
