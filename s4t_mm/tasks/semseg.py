"""The semseg task spec."""
from s4t_mm.registry import TASKS
from .task_map import TaskMapSpec
from .task_spec import TaskSpec


@TASKS.register_module(name='semseg')
class SemSegTask(TaskSpec):
    """Semantic segmentation: class ids, named and coloured by mmseg's
    ``classes`` / ``palette`` metainfo keys."""

    label_map = TaskMapSpec(categorical=True)
    evaluator = dict(type='CategoricalEvaluator')
    delta_m_metrics = ('mIoU', )
    style = 'palette'
    classes_key = 'classes'
    palette_key = 'palette'
