from .base_task_head import BaseTaskHead
from .depth_head import DepthHead
from .edge_head import EdgeHead
from .normals_head import NormalsHead
from .saliency_head import SaliencyHead
from .semseg_head import SemSegHead

__all__ = [
    'BaseTaskHead', 'DepthHead', 'EdgeHead', 'NormalsHead', 'SaliencyHead',
    'SemSegHead'
]
