"""Environment helpers."""
import datetime
import inspect
import json
import math
import warnings
from typing import Optional, Union

import mmseg.utils
from mmengine.fileio import put
from mmengine.model import is_model_wrapper
from mmengine.registry import DefaultScope, Registry

from s4t_mm import registry


def register_all_modules(init_default_scope: bool = True) -> None:
    """Import every s4t_mm component so it is registered, and optionally make
    ``s4t_mm`` the default scope (as mmseg's helper of the same name does).

    The packages are imported through the registries' ``locations`` (the
    way building by name imports them), so no module below needs to import
    this one's callers back. mmseg's components are registered too, so
    ``mmseg.*`` types resolve.
    """
    for value in vars(registry).values():
        if isinstance(value, Registry) and value.scope == registry.SCOPE:
            value.import_from_location()
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


#: Exit status of the tools' ``--strict`` when a result diverged.
DIVERGED_EXIT_STATUS = 3


def add_resume_and_strict_args(parser, units: str, parts: str) -> None:
    """The tools' ``--resume`` (skip the ``units`` an interrupted run
    stored in ``parts``) and ``--strict`` (exit with
    :data:`DIVERGED_EXIT_STATUS` when a domain diverged) options."""
    parser.add_argument('--resume', action='store_true',
                        help=f'skip every {units} an interrupted run with '
                        f'the same arguments finished (kept in {parts}); '
                        'without it each is recomputed')
    parser.add_argument('--strict', action='store_true',
                        help=f'exit with status {DIVERGED_EXIT_STATUS} '
                        'when adaptation diverged on a domain')


def json_ready(obj):
    """``obj`` in plain JSON types, as it would read back from a file:
    tuples become lists, numpy scalars and arrays Python numbers and lists,
    keys strings, and non-finite floats None (strict JSON has no NaN)."""
    if isinstance(obj, dict):
        return {str(k): json_ready(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_ready(v) for v in obj]
    if hasattr(obj, 'tolist') and not isinstance(obj, (str, bytes)):
        return json_ready(obj.tolist())  # numpy / torch values
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def dump_json_atomic(obj, path: str) -> None:
    """Write strict JSON (:func:`json_ready`: non-finite numbers as null)
    through mmengine's ``atomic_local`` file backend, which importing
    s4t_mm registers (:class:`~s4t_mm.fileio.AtomicLocalBackend`:
    a temporary file beside ``path`` renamed into place), so an interrupted
    write leaves the previous file intact; resumable runs rely on it."""
    put(json.dumps(json_ready(obj), indent=2, sort_keys=True,
                   allow_nan=False).encode(), path,
        backend_args=dict(backend='atomic_local'))


def unwrap_model(model):
    """The model inside a (Distributed)DataParallel-style wrapper."""
    return model.module if is_model_wrapper(model) else model


def registered_class(registry_: Registry, type_) -> Optional[type]:
    """The class a config's ``type`` names in ``registry_`` (or is), None
    when it names none, so configs are matched by class (``issubclass``),
    never by how their type is spelled (``'X'``, ``'s4t_mm.X'``, the class
    itself)."""
    if isinstance(type_, type):
        return type_
    return None if type_ is None else registry_.get(type_)


def check_config_keys(cls, cfg: dict, what: str) -> None:
    """Raise if ``cfg`` (minus ``type``) has keys ``cls`` does not accept,
    naming the bad keys and the valid ones (constructor arguments of
    ``cls`` and of the bases its ``**kwargs`` reach)."""
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


def build_checked(registry: Registry, cfg: Union[str, dict], what: str):
    """Build ``cfg`` (a config or a bare registered name) from ``registry``
    in its own scope (so it builds inside a plain mmseg config too), after
    checking it: an unknown type or key is an error naming the valid ones
    (``unknown protocol 'x'; valid: paper, episodic, ...``)."""
    cfg = dict(type=cfg) if isinstance(cfg, str) else dict(cfg)
    name = cfg.get('type')
    cls = registry.get(name) if isinstance(name, str) else None
    if cls is None:
        raise ValueError(f'unknown {what} {name!r}; valid: '
                         f'{", ".join(registry.module_dict)}')
    check_config_keys(cls, cfg, what)
    return registry.build(dict(cfg, _scope_=registry.scope))
