from .base_multi_task_dataset import BaseMultiTaskDataset
from .label_maps import SHARED_LABEL_SETS, apply_label_map, shared_label_map
from .nyud_multi_task import NYUDMultiTaskDataset
from .pascal_context_multi_task import PascalContextMultiTaskDataset
from .samplers import BatchShardSampler
from .synthetic_world_dataset import SyntheticWorldDataset
from .taskonomy import TaskonomyDataset
from .transforms import *  # noqa: F401,F403

__all__ = [
    'BaseMultiTaskDataset', 'SHARED_LABEL_SETS', 'apply_label_map',
    'shared_label_map', 'NYUDMultiTaskDataset',
    'PascalContextMultiTaskDataset', 'BatchShardSampler',
    'SyntheticWorldDataset', 'TaskonomyDataset'
]
