"""``s4t_mm::`` in configs, e.g.
``_base_ = ['s4t_mm::s4t/synthetic_r18_s4t_tta.py']``, from any project once
``s4t_mm`` is imported (``custom_imports`` or a tool).

mmengine 0.10.7 turns ``scope::path`` into ``(package, path)`` with
``_get_package_and_cfg_path``, which knows only the scopes of
``mmengine.config.utils.MODULE2PACKAGE`` (OpenMMLab's), and then reads
``get_installed_path(package)/.mim/configs/<path>``: the copy of
``configs/`` that setup.py puts into the wheel (links in an editable
install). Adding ``s4t_mm`` to ``MODULE2PACKAGE`` would do, but that table
also steers mmengine's registries (a registry of a listed scope without
``locations`` falls back to ``<scope>.utils.register_all_modules``), so
instead :func:`register_config_package` wraps that one function of
mmengine's config module: ``s4t_mm::`` paths are answered here, every
other path goes to mmengine's function unchanged.

The package is answered as :data:`PACKAGE_MODULE`, a module of s4t_mm
rather than the distribution name: ``get_installed_path`` then finds it
with ``find_spec``, i.e. the directory of the s4t_mm that Python imports,
where a distribution lookup would give site-packages for an editable
install.
"""
from typing import Tuple

import mmengine.config.config as mmengine_config

from s4t_mm.registry import SCOPE

#: What mmengine looks up as the package of ``s4t_mm::`` paths.
PACKAGE_MODULE = __name__


def _package_and_cfg_path(resolve):
    """``resolve`` (mmengine's ``_get_package_and_cfg_path``), answering
    ``s4t_mm::path`` itself."""

    def package_and_cfg_path(cfg_path: str) -> Tuple[str, str]:
        scope, _, path = cfg_path.partition('::')
        if scope != SCOPE or '::' in path:
            return resolve(cfg_path)
        return PACKAGE_MODULE, path

    package_and_cfg_path.resolves_s4t_mm = True
    return package_and_cfg_path


def register_config_package() -> None:
    """Let mmengine's configs resolve ``s4t_mm::`` paths (once)."""
    resolve = mmengine_config._get_package_and_cfg_path
    if not getattr(resolve, 'resolves_s4t_mm', False):
        mmengine_config._get_package_and_cfg_path = _package_and_cfg_path(
            resolve)
