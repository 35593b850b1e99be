"""The depth task spec."""
from s4t_mm.registry import TASKS
from .task_spec import TaskSpec


@TASKS.register_module(name='depth')
class DepthTask(TaskSpec):
    """Depth (metres, or the units of the dataset's decoder)."""

    evaluator = dict(type='DepthEvaluator')
    delta_m_metrics = ('rmse', 'rmse_aligned', 'rmse_batch_aligned')
    style = 'colormap'
    png16 = dict(scale=1000.0, offset=0.0,
                 note='depth * 1000 (millimetres for a model in metres), '
                 'clipped to 0..65535')
