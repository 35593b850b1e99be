from .task_relation_hook import TaskRelationHook
from .test_time_adapt_hook import TestTimeAdaptHook

__all__ = ['TaskRelationHook', 'TestTimeAdaptHook']
