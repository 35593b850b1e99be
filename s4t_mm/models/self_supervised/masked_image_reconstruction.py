"""TTT-MAE style self-supervision: reconstruct masked patches of the input
image from the shared encoder's features."""
from typing import Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor

from s4t_mm.registry import MODELS


@MODELS.register_module()
class MaskedImageReconstruction(BaseModule):
    """Masked image modelling branch of a multi-task model (TTT-MAE style).

    Random ``patch_size`` x ``patch_size`` patches of the normalised input
    are set to 0 (the dataset mean after normalisation), the masked image
    goes through the model's own encoder (``model.extract_feat``), and a
    small conv decoder on ``feats[in_index]`` predicts the full image at the
    input resolution. The loss is the mean squared error over masked pixels
    only: the visible pixels would be trivial to copy. One branch is shared
    by all tasks, which is exactly the single auxiliary task of
    conventional test-time training that S4T argues against.

    Args:
        in_channels: channels of ``feats[in_index]``.
        patch_size: side of the square patches that are masked.
        mask_ratio: share of patches masked per image, in [0, 1).
        channels: width of the decoder's hidden 3x3 conv.
        in_index: which encoder feature the decoder reads.
        out_channels: image channels to predict.
        norm_pix_loss: normalise the target per patch (its mean and variance
            over the patch's pixels and channels), as MAE does.
        loss_weight: multiplies the loss.
    """

    def __init__(self,
                 in_channels: int,
                 patch_size: int = 8,
                 mask_ratio: float = 0.75,
                 channels: int = 64,
                 in_index: int = 0,
                 out_channels: int = 3,
                 norm_pix_loss: bool = False,
                 loss_weight: float = 1.0,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        if patch_size < 1:
            raise ValueError(f'patch_size must be >= 1, got {patch_size}')
        if not 0.0 <= mask_ratio < 1.0:
            raise ValueError(f'mask_ratio must lie in [0, 1), got '
                             f'{mask_ratio}')
        self.patch_size = patch_size
        self.mask_ratio = mask_ratio
        self.in_index = in_index
        self.norm_pix_loss = norm_pix_loss
        self.loss_weight = loss_weight
        # no normalisation layer: the branch's output must not depend on
        # batch statistics, and BN-adapt style methods leave it alone
        self.decoder = nn.Sequential(
            nn.Conv2d(in_channels, channels, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(channels, out_channels, 1))

    def random_mask(self, inputs: Tensor,
                    generator: Optional[torch.Generator] = None) -> Tensor:
        """``(N, 1, H, W)`` float mask, 1 on masked pixels.

        Each image masks ``round(mask_ratio * L)`` of its ``L`` patches,
        drawn independently per image; patches at the bottom and right
        borders may be cut off when H or W is not a multiple of the patch.
        """
        n, _, h, w = inputs.shape
        p = self.patch_size
        grid_h, grid_w = -(-h // p), -(-w // p)
        num_patches = grid_h * grid_w
        num_masked = int(round(self.mask_ratio * num_patches))
        noise = torch.rand(n, num_patches, generator=generator,
                           device=generator.device if generator is not None
                           else inputs.device)
        ranks = noise.argsort(dim=1).argsort(dim=1)
        mask = (ranks < num_masked).to(inputs.dtype).to(inputs.device)
        mask = mask.view(n, 1, grid_h, grid_w)
        mask = mask.repeat_interleave(p, dim=2).repeat_interleave(p, dim=3)
        return mask[:, :, :h, :w]

    def predict_image(self, feats: Sequence[Tensor], size) -> Tensor:
        """``(N, out_channels, *size)`` reconstruction from encoder
        features."""
        out = self.decoder(feats[self.in_index])
        return F.interpolate(out, size=size, mode='bilinear',
                             align_corners=False)

    def target(self, inputs: Tensor) -> Tensor:
        """The image to reconstruct, per-patch normalised when
        ``norm_pix_loss``."""
        if not self.norm_pix_loss:
            return inputs
        p, (h, w) = self.patch_size, inputs.shape[2:]
        pool = dict(kernel_size=p, stride=p, ceil_mode=True)
        mean = F.avg_pool2d(inputs.mean(1, keepdim=True), **pool)
        mean_sq = F.avg_pool2d((inputs**2).mean(1, keepdim=True), **pool)
        std = (mean_sq - mean**2).clamp(min=0).add(1e-6).sqrt()

        def up(x):
            return x.repeat_interleave(p, 2).repeat_interleave(p, 3)[
                :, :, :h, :w]

        return (inputs - up(mean)) / up(std)

    def loss(self, model: nn.Module, inputs: Tensor,
             generator: Optional[torch.Generator] = None) -> Tensor:
        """Masked-pixel MSE of reconstructing ``inputs`` (normalised
        ``(N, C, H, W)`` images) through ``model``'s encoder."""
        mask = self.random_mask(inputs, generator)
        feats = model.extract_feat(inputs * (1 - mask))
        pred = self.predict_image(feats, inputs.shape[2:])
        sq_err = (pred - self.target(inputs))**2
        masked = mask.sum() * sq_err.shape[1]
        return self.loss_weight * (sq_err * mask).sum() / masked.clamp(min=1)
