from .aux_consistency_adapter import AuxConsistencyAdapter
from .base_adapter import BaseAdapter
from .eata_adapter import EataAdapter
from .masked_image_adapter import MaskedImageAdapter
from .norm_stats_adapter import NormStatsAdapter
from .s4t_adapter import S4TAdapter
from .tent_adapter import TentAdapter

__all__ = [
    'AuxConsistencyAdapter', 'BaseAdapter', 'EataAdapter',
    'MaskedImageAdapter', 'NormStatsAdapter', 'S4TAdapter', 'TentAdapter'
]
