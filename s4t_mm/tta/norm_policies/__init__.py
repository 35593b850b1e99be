# imported in the order the valid names are listed in errors
from .batch_stats_policy import BatchStatsPolicy  # noqa: I001
from .source_stats_policy import SourceStatsPolicy
from .prior_norm_policy import PriorNormPolicy
from .gated_norm_policy import GatedNormPolicy
from .hybrid_ttn_policy import HybridTTNPolicy
from .calibrated_norm_policy import CalibratedNormPolicy
from .base_norm_policy import (BaseNormPolicy, NormPolicyReport,
                               build_norm_policy, norm_layers)
from .blended_stats_policy import BlendedStatsPolicy, LayerDecision

__all__ = [
    'BaseNormPolicy', 'BatchStatsPolicy', 'BlendedStatsPolicy',
    'CalibratedNormPolicy',
    'GatedNormPolicy', 'HybridTTNPolicy', 'LayerDecision', 'NormPolicyReport',
    'PriorNormPolicy', 'SourceStatsPolicy', 'build_norm_policy',
    'norm_layers'
]
