"""S4T's fusion: every backbone level resized to the finest, concatenated."""
from typing import Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule

from s4t_mm.registry import MODELS


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
    it as ``inputs[0]``, like any other neck output.
    """

    def __init__(self, in_index: Optional[Sequence[int]] = None,
                 align_corners: bool = False):
        super().__init__()
        self.in_index = None if in_index is None else list(in_index)
        self.align_corners = align_corners

    def forward(self, inputs: Sequence[torch.Tensor]
                ) -> Tuple[torch.Tensor]:
        levels = list(inputs) if self.in_index is None else [
            inputs[i] for i in self.in_index]
        size = levels[0].shape[2:]
        resized = [levels[0]] + [
            F.interpolate(x, size=size, mode='bilinear',
                          align_corners=self.align_corners)
            for x in levels[1:]
        ]
        return (torch.cat(resized, dim=1), )
