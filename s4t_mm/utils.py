"""Environment helpers."""
import datetime
import json
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
    import s4t_mm.visualization  # noqa: F401
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
    from s4t_mm.engine.checkpoint import atomic_write_bytes
    atomic_write_bytes(
        json.dumps(obj, indent=2, sort_keys=True).encode(), path)


def unwrap_model(model):
    """The model inside a (Distributed)DataParallel-style wrapper."""
    from mmengine.model import is_model_wrapper
    return model.module if is_model_wrapper(model) else model


def check_config_keys(cls, cfg: dict, what: str) -> None:
    """Raise if ``cfg`` (minus ``type``) has keys ``cls`` does not accept,
    naming the bad keys and the valid ones (constructor arguments of
    ``cls`` and of the bases its ``**kwargs`` reach)."""
    import inspect
    valid, open_kwargs = set(), True
    for klass in cls.__mro__:
        if '__init__' not in vars(klass) or klass is object:
            continue
        params = inspect.signature(klass.__init__).parameters.values()
        valid |= {p.name for p in params
                  if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
        open_kwargs = any(p.kind is p.VAR_KEYWORD for p in params)
        if not open_kwargs:
            break
    valid.discard('self')
    unknown = sorted(set(cfg) - valid - {'type', '_scope_'})
    if unknown and not open_kwargs:
        raise ValueError(f'unknown {what} key(s) {unknown} for '
                         f'{cls.__name__}; valid: {", ".join(sorted(valid))}')
