"""Checkpoint loading: one path on mmengine's loader, and safe under torch
>= 2.6.

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

:func:`load_model_checkpoint` is the one way s4t_mm puts a checkpoint into
a model (tools, the inferencer, ``init_cfg=dict(type='Pretrained')``): it
wraps mmengine's ``_load_checkpoint`` and ``_load_checkpoint_to_model`` and
first checks, on every rank, that the weights fit the model.
"""
import os
import os.path as osp
import pickle
import re
import tempfile
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmengine.fileio import LocalBackend, register_backend
from mmengine.logging import HistoryBuffer
from mmengine.runner.checkpoint import (CheckpointLoader, _load_checkpoint,
                                        _load_checkpoint_to_model,
                                        _load_checkpoint_with_prefix)

#: Set to ``0`` before ``import s4t_mm`` to leave mmengine's checkpoint
#: loader as it is (``1``, the default, installs the safe one).
SAFE_CHECKPOINTS_ENV = 'S4T_MM_SAFE_CHECKPOINTS'

#: mmengine's default key renaming: weights saved from a (Distributed)
#: DataParallel wrapper lose their ``module.`` prefix.
DEFAULT_REVISE_KEYS: Tuple[Tuple[str, str], ...] = ((r'^module\.', ''), )


class UnsafeCheckpointError(RuntimeError):
    """A checkpoint asked to unpickle a type that is not allow-listed."""


class CheckpointMismatchError(ValueError):
    """A checkpoint's weights do not fit the model they are loaded into."""


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


def check_state_dict_fits(model: torch.nn.Module,
                          state_dict: Dict[str, torch.Tensor],
                          source: str,
                          ignore_extra_keys: bool = False) -> None:
    """Raise :class:`CheckpointMismatchError` if ``state_dict`` does not fit
    ``model`` key for key and shape.

    mmengine's non-strict loading only warns about mismatches, which
    silently leaves e.g. a segmentation head with a different class count
    at its random initialisation, and its strict loading raises on rank 0
    only; here it is an error, on every rank, naming the tensors, both
    shapes and the likely cause. ``ignore_extra_keys`` accepts keys the
    model lacks (the classifier of an ImageNet backbone checkpoint).
    """
    own = model.state_dict()
    mismatched = [(k, tuple(v.shape), tuple(own[k].shape))
                  for k, v in state_dict.items()
                  if k in own and own[k].shape != v.shape]
    # BatchNorm fills a missing counter itself, as mmengine allows
    missing = sorted(k for k in set(own) - set(state_dict)
                     if not k.endswith('num_batches_tracked'))
    unexpected = [] if ignore_extra_keys else sorted(set(state_dict) -
                                                     set(own))
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
                     f'{" ..." if len(missing) > 10 else ""}; it holds '
                     f'keys like {list(state_dict)[:3]}')
    if unexpected:
        lines.append(f'  not in the model: {unexpected[:10]}'
                     f'{" ..." if len(unexpected) > 10 else ""}')
    raise CheckpointMismatchError('\n'.join(lines))


def load_model_checkpoint(
        model: torch.nn.Module,
        filename: str,
        *,
        map_location='cpu',
        prefix: Optional[str] = None,
        ignore_extra_keys: bool = False,
        revise_keys: Sequence[Tuple[str, str]] = DEFAULT_REVISE_KEYS,
        logger='current') -> dict:
    """Load the weights of ``filename`` into ``model``, after checking
    they fit (:func:`check_state_dict_fits`); the one checkpoint path of
    s4t_mm.

    Reading is mmengine's ``_load_checkpoint`` (a local file through the
    safe loader; ``http(s)://``, ``torchvision://``, ``open-mmlab://``),
    or ``_load_checkpoint_with_prefix`` when ``prefix`` picks a
    sub-module's weights; loading is ``_load_checkpoint_to_model`` with
    ``revise_keys`` (regex, replacement) applied to the keys.

    Returns:
        The checkpoint as read (with its ``meta``), or with ``prefix`` the
        sub-module's state dict.
    """
    if prefix is None:
        checkpoint = _load_checkpoint(filename, map_location=map_location)
    else:
        checkpoint = _load_checkpoint_with_prefix(
            prefix, filename, map_location=map_location)
    state_dict = checkpoint.get('state_dict', checkpoint)
    revised = {}
    for key, value in state_dict.items():
        for pattern, replacement in revise_keys:
            key = re.sub(pattern, replacement, key)
        revised[key] = value
    check_state_dict_fits(model, revised, filename, ignore_extra_keys)
    return _load_checkpoint_to_model(
        model, checkpoint, strict=not ignore_extra_keys, logger=logger,
        revise_keys=revise_keys)


def load_model_weights(model: torch.nn.Module, filename: str) -> None:
    """Load a checkpoint's weights into ``model`` after checking they fit
    (:func:`load_model_checkpoint` with its defaults)."""
    load_model_checkpoint(model, filename)


@register_backend('atomic_local')
class AtomicLocalBackend(LocalBackend):
    """mmengine's local file backend with atomic writes, by name only
    (``backend_args=dict(backend='atomic_local')``, e.g. in a
    ``CheckpointHook``): plain paths keep mmengine's ``local`` backend.

    ``put`` writes to a temporary file in the target directory and renames
    it over the target, so a checkpoint or results file interrupted while
    being written leaves the previous version intact instead of a truncated
    one.
    """

    def put(self, obj: bytes, filepath: Union[str, 'os.PathLike']) -> None:
        atomic_write_bytes(obj, str(filepath))


def atomic_write_bytes(data: bytes, path: str) -> None:
    """Write ``data`` to ``path`` through a temporary file renamed over it.
    """
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
