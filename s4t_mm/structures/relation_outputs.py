"""What a multi-task model's relation API returns, and the words its callers
use to ask for it, below both the model and the adapters that read it."""
from typing import Dict, NamedTuple, Optional, Tuple

from torch import Tensor

#: How outputs are compared: ``'raw'`` (logits, unnormalised normals, ...)
#: or ``'activated'`` (each head's ``activate_soft``).
RELATION_SPACES = ('raw', 'activated')
#: What the relation predictor can give besides the main heads' outputs.
RELATION_OUTPUTS = ('reconstructed', 'aux')

View = Tuple[str, ...]


class RelationConsistency(NamedTuple):
    """What a consistency objective compares, per task, each
    (N, C_t, H, W) at the input size (see
    :meth:`MultiTaskEncoderDecoder.relation_consistency`).

    ``main``: the main heads' outputs, computed without gradient (the
    target); ``reconstructed``: the relation predictor's reconstruction;
    ``aux``: its auxiliary heads' outputs. An output not asked for is None.
    """
    main: Dict[str, Tensor]
    reconstructed: Optional[Dict[str, Tensor]] = None
    aux: Optional[Dict[str, Tensor]] = None


class RelationViews(NamedTuple):
    """The main heads' outputs and the reconstruction from each visible
    task set (see :meth:`MultiTaskEncoderDecoder.relation_views`):
    ``reconstructed[view][task]``, each (N, C_t, H, W) at the input size."""
    main: Dict[str, Tensor]
    reconstructed: Dict[View, Dict[str, Tensor]]
