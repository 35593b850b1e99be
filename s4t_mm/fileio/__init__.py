"""Checkpoint I/O and atomic writes, on the ground floor: models, engine and
apis all import them downward."""
from .atomic_backend import AtomicLocalBackend, atomic_write_bytes
from .checkpoint_loading import (DEFAULT_REVISE_KEYS, CheckpointMismatchError,
                                 check_state_dict_fits, load_model_checkpoint,
                                 load_model_weights)
from .safe_loader import (SAFE_CHECKPOINT_GLOBALS, SAFE_CHECKPOINTS_ENV,
                          UnsafeCheckpointError,
                          install_safe_checkpoint_loader,
                          load_checkpoint_file, safe_checkpoints_requested)

__all__ = [
    'AtomicLocalBackend', 'atomic_write_bytes', 'DEFAULT_REVISE_KEYS',
    'CheckpointMismatchError', 'check_state_dict_fits',
    'load_model_checkpoint', 'load_model_weights', 'SAFE_CHECKPOINT_GLOBALS',
    'SAFE_CHECKPOINTS_ENV', 'UnsafeCheckpointError',
    'install_safe_checkpoint_loader', 'load_checkpoint_file',
    'safe_checkpoints_requested'
]
