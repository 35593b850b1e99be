"""s4t_mm: multi-task test-time training on the OpenMMLab stack.

Importing the package creates its registries (children of MMSegmentation's)
and makes checkpoint loading safe (see :mod:`s4t_mm.engine.checkpoint`);
components register lazily when built by name, or all at once with
:func:`register_all_modules`.
"""
from .engine.checkpoint import install_safe_checkpoint_loader
from .registry import SCOPE
from .utils import register_all_modules
from .version import __version__

install_safe_checkpoint_loader()

__all__ = ['__version__', 'register_all_modules', 'SCOPE']
