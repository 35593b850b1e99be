"""The small base every task head shares: forward, loss, post-processing."""
from typing import List, Optional, Sequence, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule

from s4t_mm.registry import MODELS
from ..necks import DeferredConcat


class BaseTaskHead(BaseModule):
    """A dense prediction head for one task.

    The head maps backbone/neck features to a raw ``(N, out_channels, h, w)``
    map (logits, metres, unnormalised normals, ...). Subclasses fix the loss
    and :meth:`activate`, which turns the raw map into the evaluated
    prediction; everything else is shared.

    The body is either this class's own convs (``num_convs`` 3x3 blocks and a
    1x1 output conv) or any registered decode head given as ``decoder``, e.g.
    ``dict(type='mmseg.FCNHead', ...)``, whose output must have
    ``out_channels`` channels. So an mmseg decode head serves any task.

    Args:
        in_channels: channels of the selected input feature (the sum of them
            with ``input_transform='resize_concat'``); not used with
            ``decoder``.
        out_channels: channels of the raw output.
        channels: width of the hidden convs; only used when ``num_convs > 0``.
        num_convs: 3x3 conv-norm-act blocks before the final 1x1 conv; 0
            gives the 1x1 head of S4T.
        in_index: which input feature(s) to use.
        input_transform: None (use ``inputs[in_index]``) or
            ``'resize_concat'`` (resize ``inputs[i] for i in in_index`` to the
            first one's size and concatenate).
        loss: config of the loss module, called as ``loss(raw, target)``.
        dropout_ratio: dropout before the final conv.
        norm_cfg, act_cfg: for the hidden convs.
        align_corners: of every bilinear resize of this head's outputs.
        decoder: config of a decode head used as the body instead of the
            convs; it receives the whole feature tuple.
    """

    task: str = None
    default_loss: dict = None

    def __init__(self,
                 out_channels: int,
                 in_channels: Optional[int] = None,
                 channels: Optional[int] = None,
                 num_convs: int = 0,
                 in_index: Union[int, Sequence[int]] = 0,
                 input_transform: Optional[str] = None,
                 loss: Optional[dict] = None,
                 dropout_ratio: float = 0.0,
                 norm_cfg: Optional[dict] = dict(type='BN'),
                 act_cfg: Optional[dict] = dict(type='ReLU'),
                 align_corners: bool = False,
                 decoder: Optional[dict] = None,
                 init_cfg: Optional[dict] = dict(
                     type='Normal', std=0.01, override=dict(name='conv_out'))):
        super().__init__(init_cfg if decoder is None else None)
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.in_index = in_index
        self.input_transform = input_transform
        self.align_corners = align_corners
        self.loss_module = MODELS.build(loss if loss is not None else
                                        self.default_loss)
        if decoder is not None:
            self.decoder = MODELS.build(decoder)
            decoder_out = getattr(self.decoder, 'out_channels', None)
            if decoder_out != out_channels:
                raise ValueError(
                    f'{self.task} head: decoder {decoder["type"]} outputs '
                    f'{decoder_out} channels but the head needs '
                    f'{out_channels} (set its num_classes/out_channels to '
                    f'{out_channels})')
            return
        self.decoder = None
        if in_channels is None:
            raise ValueError(f'{type(self).__name__} needs in_channels '
                             '(or a decoder)')
        if input_transform not in (None, 'resize_concat'):
            raise ValueError(f'unknown input_transform {input_transform!r}; '
                             "valid: None, 'resize_concat'")
        if input_transform == 'resize_concat' and isinstance(in_index, int):
            raise ValueError("input_transform='resize_concat' needs a list "
                             f'in_index, got {in_index!r}')
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.in_index = in_index
        self.input_transform = input_transform
        self.align_corners = align_corners
        convs: List[nn.Module] = []
        width = in_channels
        for _ in range(num_convs):
            if channels is None:
                raise ValueError('num_convs > 0 needs channels')
            convs.append(ConvModule(width, channels, 3, padding=1,
                                    norm_cfg=norm_cfg, act_cfg=act_cfg))
            width = channels
        self.convs = nn.Sequential(*convs)
        self.dropout = nn.Dropout2d(dropout_ratio) if dropout_ratio > 0 \
            else nn.Identity()
        self.conv_out = nn.Conv2d(width, out_channels, kernel_size=1)

    def select_inputs(self, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        if self.input_transform is None:
            return inputs[self.in_index]
        selected = [inputs[i] for i in self.in_index]
        size = selected[0].shape[2:]
        return torch.cat([
            F.interpolate(x, size=size, mode='bilinear',
                          align_corners=self.align_corners) for x in selected
        ], dim=1)

    @property
    def pointwise_conv(self) -> Optional[nn.Conv2d]:
        """The head's only layer when the head is one 1x1 convolution of
        its selected input (no hidden convs, dropout or decoder), else None.
        Such a head can read a :class:`DeferredConcat` level by level."""
        if self.decoder is not None or len(self.convs) or not isinstance(
                self.dropout, nn.Identity) or self.input_transform:
            return None
        return self.conv_out

    def forward(self, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        """(N, out_channels, h, w) raw output at the feature resolution."""
        if self.decoder is not None:
            return self.decoder(inputs)
        x = self.select_inputs(inputs)
        if isinstance(x, DeferredConcat):
            if self.pointwise_conv is not None:
                return x.conv1x1(self.conv_out.weight, self.conv_out.bias)
            x = x.materialize()
        return self.conv_out(self.dropout(self.convs(x)))

    def resize(self, raw: torch.Tensor, size) -> torch.Tensor:
        if tuple(raw.shape[-2:]) == tuple(size):
            return raw
        return F.interpolate(raw, size=size, mode='bilinear',
                             align_corners=self.align_corners)

    def loss(self, raw: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Unweighted loss of a raw output against a batched target map.

        The raw output is resized to the target's size first.
        """
        return self.loss_module(self.resize(raw, target.shape[-2:]), target)

    def activate(self, raw: torch.Tensor) -> torch.Tensor:
        """The evaluated prediction from a raw output (same resolution)."""
        raise NotImplementedError(
            f'{type(self).__name__} must define activate()')

    def activate_soft(self, raw: torch.Tensor) -> torch.Tensor:
        """A differentiable form of :meth:`activate`, for losses that compare
        predictions rather than raw outputs (class probabilities where
        :meth:`activate` takes an argmax). Default: :meth:`activate`."""
        return self.activate(raw)
