"""Environment helpers."""
import datetime
import json
import os
import tempfile
import warnings

from mmengine.registry import DefaultScope


def register_all_modules(init_default_scope: bool = True) -> None:
    """Import every s4t_mm component so it is registered, and optionally make
    ``s4t_mm`` the default scope (as mmseg's helper of the same name does).

    mmseg's components are registered too, so ``mmseg.*`` types resolve.
    """
    import mmseg.utils

    import s4t_mm.datasets  # noqa: F401
    import s4t_mm.engine  # noqa: F401
    import s4t_mm.evaluation  # noqa: F401
    import s4t_mm.models  # noqa: F401
    import s4t_mm.tta  # noqa: F401
    mmseg.utils.register_all_modules(init_default_scope=False)
    if not init_default_scope:
        return
    current = DefaultScope.get_current_instance()
    if current is None:
        DefaultScope.get_instance('s4t_mm', scope_name='s4t_mm')
    elif current.scope_name != 's4t_mm':
        warnings.warn(f'the default scope is {current.scope_name!r}; a new '
                      "one named 's4t_mm' is created for s4t_mm")
        name = f's4t_mm-{datetime.datetime.now()}'
        DefaultScope.get_instance(name, scope_name='s4t_mm')


def dump_json_atomic(obj, path: str) -> None:
    """Write JSON to a temporary file beside ``path`` and rename it into
    place, so an interrupted write leaves the previous file intact."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix='.tmp-',
                               suffix='.json')
    try:
        with os.fdopen(fd, 'w') as f:
            json.dump(obj, f, indent=2, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
