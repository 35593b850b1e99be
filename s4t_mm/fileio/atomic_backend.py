"""Atomic writes: a file interrupted while being written leaves the
previous version intact, through mmengine's file backends or directly."""
import os
import os.path as osp
import tempfile
from typing import Union

from mmengine.fileio import LocalBackend, register_backend


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
