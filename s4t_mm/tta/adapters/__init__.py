from .aux_consistency_adapter import AuxConsistencyAdapter
from .base_adapter import BaseAdapter
from .norm_stats_adapter import NormStatsAdapter
from .s4t_adapter import S4TAdapter
from .tent_adapter import TentAdapter

__all__ = [
    'AuxConsistencyAdapter', 'BaseAdapter', 'NormStatsAdapter', 'S4TAdapter',
    'TentAdapter'
]
