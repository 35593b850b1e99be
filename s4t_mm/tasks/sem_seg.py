"""The sem_seg task spec."""
from s4t_mm.registry import TASKS
from .task_map import TaskMapSpec
from .task_spec import TaskSpec


@TASKS.register_module(name='sem_seg')
class MMSegSemSegTask(TaskSpec):
    """mmseg's ``gt_sem_seg``/``pred_sem_seg`` field, drawn as semseg; not
    evaluated (mmseg's own metrics score it)."""

    label_map = TaskMapSpec(categorical=True)
    style = 'palette'
    classes_key = 'classes'
    palette_key = 'palette'
