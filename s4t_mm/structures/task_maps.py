"""How each task's label map behaves under geometry, padding and batching.

Transforms and the data preprocessor read a task's label map from its task
spec (:mod:`s4t_mm.tasks`) instead of branching on task names; a task
without a spec gets the defaults (one channel, nearest interpolation,
ignore value 255).
"""
from s4t_mm.tasks.task_map import IGNORE_INDEX, TaskMapSpec
from s4t_mm.tasks.task_spec import task_spec

__all__ = ['IGNORE_INDEX', 'TaskMapSpec', 'task_map_spec']


def task_map_spec(task: str) -> TaskMapSpec:
    """The label map of ``task``'s spec."""
    return task_spec(task).label_map
