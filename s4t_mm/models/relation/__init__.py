from .masked_task_autoencoder import MaskedTaskAutoencoder
from .task_relation_predictor import TaskRelationPredictor

__all__ = ['MaskedTaskAutoencoder', 'TaskRelationPredictor']
