"""S4T's task-relation model: compressor, auxiliary heads, joint masked
autoencoder."""
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn as nn
from mmengine.model import BaseModule

from s4t_mm.registry import MODELS
from ..necks import DeferredConcat
from .masked_task_autoencoder import MaskedTaskAutoencoder


@MODELS.register_module()
class TaskRelationPredictor(BaseModule):
    """Learns how the tasks' outputs relate, so they can guide each other.

    1. A 1x1 compressor maps the shared features to T x C channels: one
       C-channel map per task (in the order of ``task_channels``).
    2. An auxiliary 1x1 head per task predicts that task from its slice.
    3. The compressed map is resized to ``input_size`` and a masked
       autoencoder reconstructs *all* tasks' outputs (sum of
       ``task_channels`` channels) from a view where ``mask_ratio`` of the
       patches are hidden; the result is split per task.

    Args:
        in_channels: channels of ``feats[in_index]`` (3840 for the S4T fusion
            of a ResNet-50).
        task_channels: task -> raw output channels of its main head (the
            model fills this in from its heads).
        task_feat_channels: C, channels per task after compression.
        in_index: which feature map of the tuple to read.
        input_size: R, side of the square map the autoencoder sees.
        mask_ratio: fraction of patches hidden from the encoder.
        autoencoder: sizes of :class:`MaskedTaskAutoencoder` (patch_size,
            embed_dim, depth, num_heads, decoder_embed_dim, decoder_depth,
            decoder_num_heads, mlp_ratio).
        align_corners: of the resize to ``input_size``.
        fold_resize: compute the resize to ``input_size`` and the patch
            embedding as one strided convolution on the small map where
            that is exact (:meth:`MaskedTaskAutoencoder.embed_resized`);
            False always builds the resized map. Same parameters either way.
    """

    def __init__(self,
                 in_channels: int,
                 task_channels: Dict[str, int],
                 task_feat_channels: int = 64,
                 in_index: int = 0,
                 input_size: int = 256,
                 mask_ratio: float = 0.8,
                 autoencoder: Optional[dict] = None,
                 align_corners: bool = False,
                 fold_resize: bool = True,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg)
        if not task_channels:
            raise ValueError('task_channels must name at least one task')
        if not 0.0 <= mask_ratio < 1.0:
            raise ValueError(f'mask_ratio must lie in [0, 1), got '
                             f'{mask_ratio}')
        self.task_channels = dict(task_channels)
        self.tasks = list(self.task_channels)
        self.task_feat_channels = task_feat_channels
        self.in_index = in_index
        self.input_size = input_size
        self.mask_ratio = mask_ratio
        self.align_corners = align_corners
        self.fold_resize = fold_resize
        num_tasks = len(self.tasks)
        self.compressor = nn.Conv2d(in_channels,
                                    num_tasks * task_feat_channels, 1)
        self.aux_heads = nn.ModuleDict({
            t: nn.Conv2d(task_feat_channels, c, 1)
            for t, c in self.task_channels.items()
        })
        self.autoencoder = MaskedTaskAutoencoder(
            in_channels=num_tasks * task_feat_channels,
            out_channels=sum(self.task_channels.values()),
            input_size=input_size,
            align_corners=align_corners,
            fold_resize=fold_resize,
            **(autoencoder or {}))

    def compress(self, feats: Sequence[torch.Tensor]) -> torch.Tensor:
        """(N, T*C, h, w) task features from the shared features (computed
        level by level when they are a :class:`DeferredConcat`)."""
        x = feats[self.in_index]
        if isinstance(x, DeferredConcat):
            return x.conv1x1(self.compressor.weight, self.compressor.bias)
        return self.compressor(x)

    def task_slice(self, compressed: torch.Tensor, task: str) -> torch.Tensor:
        i, c = self.tasks.index(task), self.task_feat_channels
        return compressed[:, i * c:(i + 1) * c]

    def aux_outputs(self, compressed: torch.Tensor) -> Dict[str, torch.Tensor]:
        return {
            t: head(self.task_slice(compressed, t))
            for t, head in self.aux_heads.items()
        }

    def hide_tasks(self, compressed: torch.Tensor,
                   visible_tasks: Sequence[str]) -> torch.Tensor:
        """A copy of the (N, T*C, h, w) task features with the C channels of
        every task not in ``visible_tasks`` set to zero."""
        unknown = [t for t in visible_tasks if t not in self.tasks]
        if unknown:
            raise ValueError(f'unknown visible task(s) {unknown}; the '
                             f'relation predictor knows {self.tasks}')
        keep = compressed.new_zeros(len(self.tasks), 1)
        keep[[self.tasks.index(t) for t in visible_tasks]] = 1
        keep = keep.expand(-1, self.task_feat_channels).reshape(1, -1, 1, 1)
        return compressed * keep

    def reconstruct(self, compressed: torch.Tensor,
                    mask_ratio: Optional[float] = None,
                    generator: Optional[torch.Generator] = None,
                    visible_tasks: Optional[Sequence[str]] = None
                    ) -> Dict[str, torch.Tensor]:
        """Every task's output reconstructed from a masked view, each
        (N, task_channels[t], R, R).

        ``visible_tasks`` (default: all) hides the other tasks' compressed
        channels (zeros) before the autoencoder, which is how the task
        relations are probed; ``mask_ratio=0.0`` shows every patch.
        """
        ratio = self.mask_ratio if mask_ratio is None else mask_ratio
        if visible_tasks is not None:
            compressed = self.hide_tasks(compressed, visible_tasks)
        joint, _ = self.autoencoder(compressed, ratio, generator)
        return dict(zip(self.tasks,
                        joint.split(list(self.task_channels.values()), 1)))

    def forward(self, feats: Sequence[torch.Tensor],
                mask_ratio: Optional[float] = None,
                generator: Optional[torch.Generator] = None,
                visible_tasks: Optional[Sequence[str]] = None
                ) -> Dict[str, Dict[str, torch.Tensor]]:
        """``dict(aux={task: raw}, rel={task: raw})``: auxiliary outputs at
        the feature resolution, relation outputs at ``input_size``
        (reconstructed from ``visible_tasks`` only, default all)."""
        compressed = self.compress(feats)
        return dict(aux=self.aux_outputs(compressed),
                    rel=self.reconstruct(compressed, mask_ratio, generator,
                                         visible_tasks))

    def reorder_tasks(self, state_dict: dict, prefix: str,
                      saved_order: Sequence[str]) -> None:
        """Permute, in place, the task blocks of a state dict saved with its
        tasks in ``saved_order`` (the same tasks and channels) to this
        predictor's order: the compressor's output channels, the
        autoencoder's input channels and the channels it reconstructs."""
        features = block_index(
            dict.fromkeys(self.tasks, self.task_feat_channels), saved_order,
            self.tasks)
        for name in ('compressor.weight', 'compressor.bias'):
            if prefix + name in state_dict:
                state_dict[prefix + name] = state_dict[
                    prefix + name].index_select(0, features)
        self.autoencoder.reorder_channels(
            state_dict, prefix + 'autoencoder.', features,
            block_index(self.task_channels, saved_order, self.tasks))


def block_index(sizes: Dict[str, int], saved_order: Sequence[str],
                order: List[str]) -> torch.Tensor:
    """Indices that take consecutive blocks of ``sizes[task]`` entries from
    ``saved_order`` to ``order``."""
    starts, start = {}, 0
    for task in saved_order:
        starts[task], start = start, start + sizes[task]
    return torch.cat([torch.arange(sizes[t]) + starts[t] for t in order])
