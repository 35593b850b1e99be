# imported in the order the valid names are listed in errors
from .batch_stats_policy import BatchStatsPolicy  # noqa: I001
from .source_stats_policy import SourceStatsPolicy
from .base_norm_policy import BaseNormPolicy, build_norm_policy, norm_layers

__all__ = [
    'BaseNormPolicy', 'BatchStatsPolicy', 'SourceStatsPolicy',
    'build_norm_policy', 'norm_layers'
]
