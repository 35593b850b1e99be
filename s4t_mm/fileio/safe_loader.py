"""The safe checkpoint loader: ``torch.load`` with ``weights_only=True``
and an allow-list, installed process-wide as mmengine's local loader.

torch >= 2.6 loads with ``weights_only=True`` by default, which refuses the
numpy values and ``HistoryBuffer`` objects mmengine 0.10.7 writes into its
own checkpoints (message-hub state, seeds), so a stock Runner cannot resume
its own checkpoints. Turning ``weights_only`` off would let any checkpoint
execute arbitrary code when unpickled. Instead :func:`load_checkpoint_file`
loads with ``weights_only=True`` and allows exactly the few non-tensor
types those checkpoints carry (:data:`SAFE_CHECKPOINT_GLOBALS`); anything
else is refused with :class:`UnsafeCheckpointError` before any of it runs.
A pickled ``HistoryBuffer`` fetches its statistics methods through
``getattr``; the unpickler gets :func:`_history_buffer_statistic` under
that name, which returns those methods and refuses every other lookup.

``import s4t_mm`` calls :func:`install_safe_checkpoint_loader` (unless
``S4T_MM_SAFE_CHECKPOINTS=0``): mmengine's default (local file) checkpoint
scheme becomes :func:`load_checkpoint_file`. Nothing else of mmengine is
replaced: other schemes, file I/O and pickling stay as they are.
"""
import os
import os.path as osp
import pickle
from typing import Callable, List, Tuple, Union

import numpy as np
import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner.checkpoint import CheckpointLoader

#: Set to ``0`` before ``import s4t_mm`` to leave mmengine's checkpoint
#: loader as it is (``1``, the default, installs the safe one).
SAFE_CHECKPOINTS_ENV = 'S4T_MM_SAFE_CHECKPOINTS'


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


_BUILTIN_STATISTICS = frozenset({'min', 'max', 'mean', 'current'})


def _history_buffer_statistic(owner, name: str):
    """``getattr`` as the unpickler sees it: mmengine pickles a
    ``HistoryBuffer``'s statistics methods (min, max, mean, current and
    registered ones) as ``getattr(HistoryBuffer, name)``; any other lookup
    could reach a method that writes files, so it is refused."""
    # the built-in ones enter _statistics_methods only when a first
    # HistoryBuffer is created, which a fresh process may not have done yet
    allowed = _BUILTIN_STATISTICS | set(HistoryBuffer._statistics_methods)
    if owner is HistoryBuffer and name in allowed:
        return getattr(HistoryBuffer, name)
    raise pickle.UnpicklingError(
        f'getattr({owner!r}, {name!r}) is not allowed in a checkpoint; only '
        f'the statistics methods of mmengine HistoryBuffer ({sorted(allowed)})'
        ' are')


#: Non-tensor types allowed inside a checkpoint: what mmengine's Runner and
#: our models write (numpy arrays/scalars in message-hub state, the
#: message hub's history buffers).
SAFE_CHECKPOINT_GLOBALS: List[Union[Callable, Tuple[Callable, str]]] = [
    HistoryBuffer, (_history_buffer_statistic, 'builtins.getattr'),
    *_numpy_globals()
]


def load_checkpoint_file(filename: str, map_location=None) -> dict:
    """``torch.load`` restricted to tensors and the allow-listed types (the
    loader of mmengine's default checkpoint scheme, same arguments)."""
    filename = osp.expanduser(filename)
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


def safe_checkpoints_requested() -> bool:
    """Whether ``S4T_MM_SAFE_CHECKPOINTS`` asks for the safe loader."""
    value = os.environ.get(SAFE_CHECKPOINTS_ENV, '1')
    if value not in ('0', '1'):
        raise ValueError(f'{SAFE_CHECKPOINTS_ENV}={value!r}: expected 1 '
                         '(install the safe checkpoint loader, the default) '
                         "or 0 (keep mmengine's loader)")
    return value == '1'


def install_safe_checkpoint_loader() -> None:
    """Make :func:`load_checkpoint_file` the loader of mmengine's default
    (local file) checkpoint scheme: ``Runner.load_checkpoint``, ``resume``,
    ``load_from``, ``init_cfg`` and :func:`load_model_checkpoint` read
    local checkpoints through it. Other schemes are left alone."""
    CheckpointLoader.register_scheme(prefixes='', loader=load_checkpoint_file,
                                     force=True)
