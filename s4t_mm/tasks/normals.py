"""The normals task spec."""
from s4t_mm.registry import TASKS
from .task_map import TaskMapSpec
from .task_spec import TaskSpec


@TASKS.register_module(name='normals')
class NormalsTask(TaskSpec):
    """Surface normals: unit vectors whose x flips under a horizontal flip."""

    label_map = TaskMapSpec(channels=3, flip_sign_channel=0, unit_vector=True)
    evaluator = dict(type='NormalsEvaluator')
    delta_m_metrics = ('mean', )
    style = 'normals'
    png16 = dict(scale=65535 / 2, offset=-1.0,
                 note='(n + 1) / 2 * 65535 per channel, RGB = xyz')
