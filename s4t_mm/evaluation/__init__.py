from .functional import DELTA_M_KEYS, METRIC_DIRECTIONS, delta_m
from .metrics import MultiTaskMetric
from .task_evaluators import TASK_EVALUATORS, TaskEvaluator

__all__ = [
    'DELTA_M_KEYS', 'METRIC_DIRECTIONS', 'MultiTaskMetric', 'TASK_EVALUATORS',
    'TaskEvaluator', 'delta_m'
]
