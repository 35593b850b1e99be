"""Checkpoint loading that never runs code from the file.

torch >= 2.6 loads with ``weights_only=True`` by default, which refuses the
numpy values and ``HistoryBuffer`` objects mmengine 0.10.7 writes into its
own checkpoints (message-hub state, seeds). Turning ``weights_only`` off would
let any checkpoint execute arbitrary code when unpickled. Instead the local
loader of mmengine's ``CheckpointLoader`` is replaced by one that always
loads with ``weights_only=True`` and allows exactly the few non-tensor types
our checkpoints carry (:data:`SAFE_CHECKPOINT_GLOBALS`). Anything else is
refused with :class:`UnsafeCheckpointError` before any of it runs.

A ``HistoryBuffer`` normally pickles its bound statistics methods through
``getattr``, which cannot be allowed safely (``getattr`` reaches methods
that write files). It is therefore pickled from its constructor arguments
instead (:func:`_reduce_history_buffer`), which rebuilds it equally.
"""
import copyreg
import os.path as osp
import pickle
from typing import Callable, List

import numpy as np
import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner.checkpoint import CheckpointLoader


class UnsafeCheckpointError(RuntimeError):
    """A checkpoint asked to unpickle a type that is not allow-listed."""


def _numpy_globals() -> List[Callable]:
    """The numpy callables that rebuild arrays, dtypes and scalars."""
    core = np._core if hasattr(np, '_core') else np.core
    dtype_classes = [type(np.dtype(t)) for t in (
        np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8,
        np.uint16, np.uint32, np.uint64, np.float16, np.float32, np.float64)]
    return [
        core.multiarray._reconstruct, core.multiarray.scalar, np.ndarray,
        np.dtype, *dtype_classes
    ]


#: Non-tensor types allowed inside a checkpoint: what mmengine's Runner and
#: our models write (numpy arrays/scalars in message-hub state, the
#: message hub's history buffers).
SAFE_CHECKPOINT_GLOBALS: List[Callable] = [HistoryBuffer, *_numpy_globals()]


def load_checkpoint_file(filename: str, map_location=None) -> dict:
    """``torch.load`` restricted to tensors and the allow-listed types."""
    if not osp.isfile(filename):
        raise FileNotFoundError(f'checkpoint file {filename!r} does not exist')
    try:
        with torch.serialization.safe_globals(SAFE_CHECKPOINT_GLOBALS):
            return torch.load(filename, map_location=map_location,
                              weights_only=True)
    except pickle.UnpicklingError as err:
        raise UnsafeCheckpointError(
            f'refused to load {filename!r}: it contains objects outside the '
            'allow-list of s4t_mm checkpoints (tensors, numpy arrays and '
            'scalars, mmengine HistoryBuffer), and unpickling them could '
            'run arbitrary code. If you trust the file, convert it to a '
            f'plain state_dict first. Details: {err}') from None


def _reduce_history_buffer(buffer: HistoryBuffer):
    return HistoryBuffer, (buffer._log_history, buffer._count_history,
                           buffer.max_length)


def install_safe_checkpoint_loader() -> None:
    """Make mmengine load local checkpoints through
    :func:`load_checkpoint_file` (Runner.load_checkpoint, resume, load_from)
    and pickle history buffers without ``getattr``."""
    copyreg.pickle(HistoryBuffer, _reduce_history_buffer)
    CheckpointLoader.register_scheme(prefixes='', loader=load_checkpoint_file,
                                     force=True)
