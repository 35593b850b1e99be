"""Which way a multi-task model's consumers read a multi-level fused map
(:class:`~s4t_mm.models.necks.MultiLevelConcat`).

``'per_level'``: every consumer is a 1x1 convolution (1x1 heads, the
relation predictor's compressor), so each applies its weight slices at every
level's own resolution and only the small outputs are resized (the same
values, see :class:`~s4t_mm.models.necks.DeferredConcat`); ``'concat'``:
the map is built and read as is; ``'auto'``: ``'per_level'`` where it is
possible, else ``'concat'``.
"""
from typing import Mapping, Optional

import torch.nn as nn
from mmengine.logging import print_log

FUSIONS = ('auto', 'per_level', 'concat')


def resolve_fusion(fusion: str, neck: Optional[nn.Module],
                   heads: Mapping[str, nn.Module],
                   self_supervised: Mapping[str, nn.Module]) -> str:
    """``'per_level'`` or ``'concat'`` for the requested ``fusion``
    (:data:`FUSIONS`) of a model with this neck, these task heads and
    self-supervised branches."""
    if fusion not in FUSIONS:
        raise ValueError(f'unknown fusion {fusion!r}; valid: '
                         f'{", ".join(FUSIONS)}')
    if fusion == 'concat':
        return fusion
    blocker = per_level_blocker(neck, heads, self_supervised)
    if blocker is None:
        return 'per_level'
    if fusion == 'per_level':
        raise ValueError(f"fusion='per_level' is not possible: {blocker};"
                         " use fusion='concat' or 'auto'")
    print_log(f'fusion: concatenation, because {blocker}', logger='current')
    return 'concat'


def per_level_blocker(neck: Optional[nn.Module],
                      heads: Mapping[str, nn.Module],
                      self_supervised: Mapping[str, nn.Module]
                      ) -> Optional[str]:
    """Why the fused map must be built, or None when every consumer of it
    is a 1x1 convolution."""
    if neck is None:
        return 'the model has no neck that fuses levels'
    if not hasattr(neck, 'defer'):
        return (f'the neck ({type(neck).__name__}) does not fuse '
                'levels that 1x1 convolutions could read one by one')
    for task, head in heads.items():
        if head.pointwise_conv is None:
            return (f'the {task!r} head ({type(head).__name__}) is not '
                    'one 1x1 convolution (hidden convs, dropout, a '
                    'decoder or an input transform)')
    if self_supervised:
        return (f'the self-supervised branch(es) '
                f'{sorted(self_supervised)} read the fused map')
    return None
