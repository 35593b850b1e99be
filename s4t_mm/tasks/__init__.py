"""One registered spec per task; the import order is the order tasks are
listed in (delta_m sums over them in it, the visualizer draws in it)."""
from .task_map import IGNORE_INDEX, TaskMapSpec
from .task_spec import TaskSpec, TaskSpecView, task_spec, task_specs
from .semseg import SemSegTask
from .human_parts import HumanPartsTask
from .sem_seg import MMSegSemSegTask
from .depth import DepthTask
from .normals import NormalsTask
from .edge import EdgeTask
from .saliency import SaliencyTask

__all__ = [
    'IGNORE_INDEX', 'TaskMapSpec', 'TaskSpec', 'TaskSpecView', 'task_spec',
    'task_specs', 'SemSegTask', 'HumanPartsTask', 'MMSegSemSegTask',
    'DepthTask', 'NormalsTask', 'EdgeTask', 'SaliencyTask'
]
