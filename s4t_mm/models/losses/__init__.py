from .balanced_bce_loss import BalancedBCELoss
from .cosine_normals_loss import CosineNormalsLoss
from .masked_l1_loss import MaskedL1Loss
from .pixel_cross_entropy_loss import PixelCrossEntropyLoss
from .task_weight_combiner import TaskWeightCombiner
from .uncertainty_weight_combiner import UncertaintyWeightCombiner

__all__ = [
    'BalancedBCELoss', 'CosineNormalsLoss', 'MaskedL1Loss',
    'PixelCrossEntropyLoss', 'TaskWeightCombiner', 'UncertaintyWeightCombiner'
]
