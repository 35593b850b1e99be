"""The human_parts task spec."""
from s4t_mm.registry import TASKS
from .task_map import TaskMapSpec
from .task_spec import TaskSpec


@TASKS.register_module(name='human_parts')
class HumanPartsTask(TaskSpec):
    """Human part segmentation (PASCAL-Context): class ids, 0 = background."""

    label_map = TaskMapSpec(categorical=True)
    evaluator = dict(type='CategoricalEvaluator')
    delta_m_metrics = ('mIoU', )
    style = 'palette'
