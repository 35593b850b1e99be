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
import os
import os.path as osp
import pickle
import tempfile
from typing import Callable, Dict, List, Union

import numpy as np
import torch
from mmengine.fileio import LocalBackend, register_backend
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


def check_state_dict_fits(model: torch.nn.Module,
                          state_dict: Dict[str, torch.Tensor],
                          source: str) -> None:
    """Raise if ``state_dict`` does not fit ``model`` key for key and shape.

    mmengine loads with ``strict=False`` and only warns about mismatches,
    which silently leaves e.g. a segmentation head with a different class
    count at its random initialisation; here that is an error naming the
    tensors, both shapes and the likely cause.
    """
    own = model.state_dict()
    mismatched = [(k, tuple(v.shape), tuple(own[k].shape))
                  for k, v in state_dict.items()
                  if k in own and own[k].shape != v.shape]
    missing = sorted(set(own) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(own))
    if not (mismatched or missing or unexpected):
        return
    lines = [f'checkpoint {source!r} does not fit the model of the config:']
    for key, theirs, ours in mismatched:
        hint = ''
        if key.endswith('conv_out.weight') or key.endswith('conv_seg.weight'):
            hint = (f' (the checkpoint head predicts {theirs[0]} channels/'
                    f'classes, the config asks for {ours[0]})')
        lines.append(f'  {key}: checkpoint {theirs}, model {ours}{hint}')
    if missing:
        lines.append(f'  missing from the checkpoint: {missing[:10]}'
                     f'{" ..." if len(missing) > 10 else ""}')
    if unexpected:
        lines.append(f'  not in the model: {unexpected[:10]}'
                     f'{" ..." if len(unexpected) > 10 else ""}')
    raise ValueError('\n'.join(lines))


def load_model_weights(model: torch.nn.Module, filename: str) -> None:
    """Load a checkpoint's weights into ``model`` after checking they fit."""
    checkpoint = load_checkpoint_file(filename, map_location='cpu')
    state_dict = checkpoint.get('state_dict', checkpoint)
    state_dict = {k[len('module.'):] if k.startswith('module.') else k: v
                  for k, v in state_dict.items()}
    check_state_dict_fits(model, state_dict, filename)
    model.load_state_dict(state_dict, strict=True)


class AtomicLocalBackend(LocalBackend):
    """mmengine's local file backend with atomic writes.

    ``put`` writes to a temporary file in the target directory and renames
    it over the target, so a checkpoint or results file interrupted while
    being written leaves the previous version intact instead of a truncated
    one.
    """

    def put(self, obj: bytes, filepath: Union[str, 'os.PathLike']) -> None:
        atomic_write_bytes(obj, str(filepath))


def atomic_write_bytes(data: bytes, path: str) -> None:
    directory = osp.dirname(osp.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix='.tmp-')
    try:
        with os.fdopen(fd, 'wb') as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def _reduce_history_buffer(buffer: HistoryBuffer):
    return HistoryBuffer, (buffer._log_history, buffer._count_history,
                           buffer.max_length)


def install_safe_checkpoint_loader() -> None:
    """Make mmengine load local checkpoints through
    :func:`load_checkpoint_file` (Runner.load_checkpoint, resume, load_from),
    write local files atomically, and pickle history buffers without
    ``getattr``."""
    copyreg.pickle(HistoryBuffer, _reduce_history_buffer)
    register_backend('local', AtomicLocalBackend, force=True, prefixes='')
    CheckpointLoader.register_scheme(prefixes='', loader=load_checkpoint_file,
                                     force=True)
