"""s4t_mm: multi-task test-time training on the OpenMMLab stack.

Importing the package creates its registries (children of MMSegmentation's)
and changes two things in mmengine, nothing else:

- configs can inherit ours as ``_base_ = ['s4t_mm::s4t/...']``
  (:mod:`s4t_mm.config_package`);
- mmengine's default (local file) checkpoint loader becomes the safe one of
  :mod:`s4t_mm.fileio`, so a Runner resumes its own checkpoints
  under torch >= 2.6 and a checkpoint that would run code is refused; set
  ``S4T_MM_SAFE_CHECKPOINTS=0`` before the import to keep mmengine's.

Components register lazily when built by name, or all at once with
:func:`register_all_modules`.
"""
from .config_package import register_config_package
from .fileio import install_safe_checkpoint_loader, safe_checkpoints_requested
from .registry import SCOPE
from .utils import register_all_modules
from .version import __version__

register_config_package()
if safe_checkpoints_requested():
    install_safe_checkpoint_loader()

__all__ = ['__version__', 'register_all_modules', 'SCOPE']
