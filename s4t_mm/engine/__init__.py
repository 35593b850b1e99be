from .hooks import (MultiTaskVisualizationHook, TaskRelationHook,
                    TestTimeAdaptHook)
from .optimizers import AutocastOptimWrapper
from .runner import MultiDomainTestLoop

__all__ = [
    'MultiTaskVisualizationHook', 'TaskRelationHook', 'TestTimeAdaptHook',
    'AutocastOptimWrapper', 'MultiDomainTestLoop'
]
