"""A downstream project on the installed s4t_mm: its own task head and its
own test-time adaptation method, registered into s4t_mm's registries from
outside the package (``custom_imports=dict(imports=['example_downstream'])``
in the config)."""
from .log_depth_head import LogDepthHead
from .pseudo_label_adapter import PseudoLabelAdapter

__all__ = ['LogDepthHead', 'PseudoLabelAdapter']
