"""The saliency task spec."""
from s4t_mm.registry import TASKS
from .task_spec import TaskSpec


@TASKS.register_module(name='saliency')
class SaliencyTask(TaskSpec):
    """Saliency as probabilities."""

    evaluator = dict(type='SaliencyEvaluator')
    delta_m_metrics = ('maxF', )
    style = 'overlay'
    png16 = dict(scale=65535.0, offset=0.0, note='probability * 65535')
