from .data_preprocessor import MultiTaskDataPreprocessor
from .heads import *  # noqa: F401,F403
from .losses import *  # noqa: F401,F403
from .mtl_models import MultiTaskEncoderDecoder
from .necks import MultiLevelConcat
from .pretrained_init import CheckedPretrainedInit
from .relation import TaskRelationPredictor
from .self_supervised import MaskedImageReconstruction

__all__ = [
    'MultiTaskDataPreprocessor', 'MultiTaskEncoderDecoder',
    'MultiLevelConcat', 'TaskRelationPredictor', 'MaskedImageReconstruction',
    'CheckedPretrainedInit'
]
