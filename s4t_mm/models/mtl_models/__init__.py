from .multi_task_encoder_decoder import (RELATION_OUTPUTS, RELATION_SPACES,
                                         MultiTaskEncoderDecoder,
                                         RelationConsistency, RelationViews)

__all__ = [
    'MultiTaskEncoderDecoder', 'RelationConsistency', 'RelationViews',
    'RELATION_SPACES', 'RELATION_OUTPUTS'
]
