from .checkpoint import (SAFE_CHECKPOINT_GLOBALS, UnsafeCheckpointError,
                         install_safe_checkpoint_loader, load_checkpoint_file)
from .hooks import (MultiTaskVisualizationHook, TaskRelationHook,
                    TestTimeAdaptHook)
from .optimizers import AutocastOptimWrapper
from .runner import (DomainReport, TestTimeAdaptLoop,
                     TestTimeAdaptReport)

__all__ = [
    'SAFE_CHECKPOINT_GLOBALS', 'UnsafeCheckpointError',
    'install_safe_checkpoint_loader', 'load_checkpoint_file',
    'MultiTaskVisualizationHook', 'TaskRelationHook', 'TestTimeAdaptHook',
    'AutocastOptimWrapper', 'DomainReport', 'TestTimeAdaptLoop',
    'TestTimeAdaptReport'
]
