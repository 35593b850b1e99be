"""S4T's fusion: every backbone level resized to the finest, concatenated."""
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule

from s4t_mm.registry import MODELS


class DeferredConcat:
    """The concatenation of resized levels, not computed yet.

    Bilinear resizing is linear and acts on each channel alone, so a 1x1
    convolution of the concatenation equals the sum of each level's weight
    slice applied at the level's own resolution, then resized:
    ``conv1x1(cat(up(x_l))) = sum_l up(conv1x1_l(x_l)) + b``. :meth:`conv1x1`
    computes the right-hand side, which never builds the (N, sum C_l, H, W)
    map; :meth:`materialize` builds it for consumers that need the map.

    Args:
        levels: (N, C_l, H_l, W_l) maps; the first one sets the output size.
        align_corners: of the bilinear resize.
    """

    def __init__(self, levels: Sequence[torch.Tensor], align_corners: bool):
        self.levels = list(levels)
        self.align_corners = align_corners

    @property
    def size(self) -> torch.Size:
        return self.levels[0].shape[2:]

    @property
    def channels(self) -> List[int]:
        return [x.shape[1] for x in self.levels]

    def resize(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, size=self.size, mode='bilinear',
                             align_corners=self.align_corners)

    def materialize(self) -> torch.Tensor:
        """(N, sum C_l, H_0, W_0): the levels resized and concatenated."""
        return torch.cat([self.levels[0]] +
                         [self.resize(x) for x in self.levels[1:]], dim=1)

    def conv1x1(self, weight: torch.Tensor,
                bias: Optional[torch.Tensor]) -> torch.Tensor:
        """(N, O, H_0, W_0): ``F.conv2d(self.materialize(), weight, bias)``
        for an (O, sum C_l, 1, 1) weight, computed per level."""
        if weight.shape[1] != sum(self.channels) or weight.shape[2:] != (1,
                                                                         1):
            raise ValueError(
                f'a 1x1 convolution of the fused levels needs a weight of '
                f'shape (O, {sum(self.channels)}, 1, 1), got '
                f'{tuple(weight.shape)}')
        slices = weight.split(self.channels, dim=1)
        out = F.conv2d(self.levels[0], slices[0], bias)
        for x, w in zip(self.levels[1:], slices[1:]):
            out = out + self.resize(F.conv2d(x, w))
        return out


@MODELS.register_module()
class MultiLevelConcat(BaseModule):
    """Resize the selected levels to the first one's size and concatenate.

    Parameter-free. With a ResNet-50 (strides 4..32, 256..2048 channels)
    the output is one stride-4 map of 3840 channels, the input of S4T's
    heads, compressor and relation predictor.

    Args:
        in_index: levels to fuse; None uses all of them.
        align_corners: of the bilinear resize.

    Returns a one-element tuple ``(N, sum(C_i), H_0, W_0)`` so heads address
    it as ``inputs[0]``, like any other neck output; :meth:`defer` returns
    the same as a :class:`DeferredConcat`, for consumers that are all 1x1
    convolutions.
    """

    def __init__(self, in_index: Optional[Sequence[int]] = None,
                 align_corners: bool = False):
        super().__init__()
        self.in_index = None if in_index is None else list(in_index)
        self.align_corners = align_corners

    def defer(self, inputs: Sequence[torch.Tensor]
              ) -> Tuple[DeferredConcat]:
        levels = list(inputs) if self.in_index is None else [
            inputs[i] for i in self.in_index]
        return (DeferredConcat(levels, self.align_corners), )

    def forward(self, inputs: Sequence[torch.Tensor]
                ) -> Tuple[torch.Tensor]:
        return (self.defer(inputs)[0].materialize(), )
