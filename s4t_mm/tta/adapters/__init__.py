from .aux_consistency_adapter import AuxConsistencyAdapter
from .base_adapter import BaseAdapter
from .cotta_adapter import CottaAdapter
from .eata_adapter import EataAdapter
from .masked_image_adapter import MaskedImageAdapter
from .norm_stats_adapter import NormStatsAdapter
from .s4t_adapter import S4TAdapter
from .sar_adapter import SarAdapter
from .tent_adapter import TentAdapter

__all__ = [
    'AuxConsistencyAdapter', 'BaseAdapter', 'CottaAdapter', 'EataAdapter',
    'MaskedImageAdapter', 'NormStatsAdapter', 'S4TAdapter', 'SarAdapter',
    'TentAdapter'
]
