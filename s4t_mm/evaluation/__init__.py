from .metrics import MultiTaskMetric
from .multi_task_gain import (delta_m, delta_m_candidates, delta_m_keys,
                              metric_direction, metric_directions)
from .task_evaluators import (DELTA_M_KEYS, METRIC_DIRECTIONS,
                              TASK_EVALUATORS, TaskEvaluator)

__all__ = [
    'DELTA_M_KEYS', 'METRIC_DIRECTIONS', 'MultiTaskMetric', 'TASK_EVALUATORS',
    'TaskEvaluator', 'delta_m', 'delta_m_candidates', 'delta_m_keys',
    'metric_direction', 'metric_directions'
]
