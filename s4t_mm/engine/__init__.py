from .hooks import (MultiTaskVisualizationHook, TaskRelationHook,
                    TestTimeAdaptHook)
from .optimizers import AutocastOptimWrapper
from .runner import (DomainReport, TestTimeAdaptLoop,
                     TestTimeAdaptReport)

__all__ = [
    'MultiTaskVisualizationHook', 'TaskRelationHook', 'TestTimeAdaptHook',
    'AutocastOptimWrapper', 'DomainReport', 'TestTimeAdaptLoop',
    'TestTimeAdaptReport'
]
