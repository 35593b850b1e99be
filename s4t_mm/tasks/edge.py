"""The edge task spec."""
from s4t_mm.registry import TASKS
from .task_spec import TaskSpec


@TASKS.register_module(name='edge')
class EdgeTask(TaskSpec):
    """Edges as probabilities. delta_m prefers ``odsF_tol`` where it is
    measured: ``l1`` can be lowered by predicting no edges at all."""

    evaluator = dict(type='EdgeEvaluator')
    delta_m_metrics = ('odsF_tol', 'l1', 'l1_aligned', 'l1_batch_aligned')
    style = 'overlay'
    png16 = dict(scale=65535.0, offset=0.0, note='probability * 65535')
