"""Masked autoencoder over the stacked per-task feature maps."""
from typing import Optional, Tuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .transformer_block import TransformerBlock


def sincos_pos_embed_2d(dim: int, grid: int) -> torch.Tensor:
    """Fixed 2-D sin-cos position embedding, (grid * grid, dim).

    Half of the channels encode the row, half the column, each as
    ``[sin(p * w_k), cos(p * w_k)]`` with ``w_k = 10000^(-k / (dim / 4))``
    (the MAE form).
    """
    if dim % 4:
        raise ValueError(f'sin-cos position embedding needs a width '
                         f'divisible by 4, got {dim}')
    omega = 1.0 / 10000**(np.arange(dim // 4, dtype=np.float64) / (dim / 4))
    rows, cols = np.meshgrid(np.arange(grid), np.arange(grid), indexing='ij')

    def encode(pos):
        angles = np.outer(pos.reshape(-1), omega)
        return np.concatenate([np.sin(angles), np.cos(angles)], axis=1)

    # MAE's grid puts the column coordinate first.
    emb = np.concatenate([encode(cols), encode(rows)], axis=1)
    return torch.from_numpy(emb).float()


def patch_resize_weights(in_size: int, out_size: int,
                         patch_size: int) -> Optional[torch.Tensor]:
    """How one patch of a bilinear resize reads its input, along one axis.

    For ``F.interpolate(x, out_size, mode='bilinear', align_corners=False)``
    with ``out_size = s * in_size`` and ``patch_size = s * k`` (integers s,
    k), output patch i reads input positions ``k*i - 1 .. k*i + k`` only, with
    the same weights for every i once the input is padded by one replicated
    value on each side (the resize clamps at the borders, which is what the
    replication gives). Returns those (patch_size, k + 2) weights, or None
    when the sizes do not allow it.
    """
    if out_size % in_size or patch_size % (out_size // in_size):
        return None
    scale = out_size // in_size
    weights = torch.zeros(patch_size, patch_size // scale + 2,
                          dtype=torch.float64)
    for q in range(patch_size):
        src = (q + 0.5) / scale + 0.5  # in the padded window's coordinates
        lo = int(np.floor(src))
        weights[q, lo] += lo + 1 - src
        weights[q, lo + 1] += src - lo
    return weights


class MaskedTaskAutoencoder(nn.Module):
    """ViT encoder over the kept patches, decoder with mask tokens.

    The input, resized to (N, in_channels, S, S), is cut into ``patch_size``
    patches (L = (S / patch_size)^2 tokens). The encoder sees only
    ``floor(L * (1 - mask_ratio))`` patches chosen per sample at random; the
    decoder gets mask tokens for the rest and predicts every patch's
    ``patch_size^2 * out_channels`` values, returned as an
    (N, out_channels, S, S) map.

    Position embeddings are fixed sin-cos; they are stored as parameters
    that never receive gradients (as in MAE), so parameter counts match the
    reference implementation.

    ``align_corners`` is that of the bilinear resize to S x S;
    ``fold_resize`` computes the resize and the patch embedding as one
    strided convolution on the small map where that is exact (see
    :meth:`embed_resized`).
    """

    def __init__(self, in_channels: int, out_channels: int, input_size: int,
                 patch_size: int = 16, embed_dim: int = 64, depth: int = 4,
                 num_heads: int = 4, decoder_embed_dim: int = 64,
                 decoder_depth: int = 2, decoder_num_heads: int = 4,
                 mlp_ratio: float = 4.0, align_corners: bool = False,
                 fold_resize: bool = True):
        super().__init__()
        self.align_corners = align_corners
        self.fold_resize = fold_resize
        if input_size % patch_size:
            raise ValueError(f'input_size {input_size} is not a multiple of '
                             f'patch_size {patch_size}')
        self.out_channels = out_channels
        self.patch_size = patch_size
        self.grid = input_size // patch_size
        num_patches = self.grid**2
        self.patch_embed = nn.Conv2d(in_channels, embed_dim, patch_size,
                                     stride=patch_size)
        self.pos_embed = nn.Parameter(
            sincos_pos_embed_2d(embed_dim, self.grid)[None],
            requires_grad=False)
        self.blocks = nn.ModuleList([
            TransformerBlock(embed_dim, num_heads, mlp_ratio)
            for _ in range(depth)
        ])
        self.norm = nn.LayerNorm(embed_dim, eps=1e-6)
        self.decoder_embed = nn.Linear(embed_dim, decoder_embed_dim)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, decoder_embed_dim))
        self.decoder_pos_embed = nn.Parameter(
            sincos_pos_embed_2d(decoder_embed_dim, self.grid)[None],
            requires_grad=False)
        self.decoder_blocks = nn.ModuleList([
            TransformerBlock(decoder_embed_dim, decoder_num_heads, mlp_ratio)
            for _ in range(decoder_depth)
        ])
        self.decoder_norm = nn.LayerNorm(decoder_embed_dim, eps=1e-6)
        self.decoder_pred = nn.Linear(decoder_embed_dim,
                                      patch_size**2 * out_channels)
        self.num_patches = num_patches
        self._init_weights()

    def _init_weights(self):
        w = self.patch_embed.weight.data
        nn.init.xavier_uniform_(w.view(w.shape[0], -1))
        nn.init.zeros_(self.patch_embed.bias)
        nn.init.normal_(self.mask_token, std=0.02)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)

    def num_kept(self, mask_ratio: float) -> int:
        return int(self.num_patches * (1 - mask_ratio))

    def random_masking(self, x: torch.Tensor, mask_ratio: float,
                       generator: Optional[torch.Generator] = None
                       ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Keep a random subset of tokens per sample.

        Returns the kept tokens (N, K, D), the binary mask (N, L) with 1 for
        masked patches, and the permutation that restores the token order.
        """
        n, length, dim = x.shape
        noise = torch.rand(n, length, device=x.device, generator=generator)
        ids_shuffle = noise.argsort(dim=1)
        ids_restore = ids_shuffle.argsort(dim=1)
        keep = self.num_kept(mask_ratio)
        ids_keep = ids_shuffle[:, :keep]
        kept = x.gather(1, ids_keep[..., None].expand(-1, -1, dim))
        mask = torch.ones(n, length, device=x.device)
        mask[:, :keep] = 0
        return kept, mask.gather(1, ids_restore), ids_restore

    def embed_patches(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, S, S) -> (N, L, embed_dim) patch tokens, row-major.

        The same map as ``patch_embed`` (a stride-``patch_size`` conv),
        computed as one matrix product over the flattened patches: on CPUs
        the backward pass of a large-kernel strided convolution is several
        times slower than the equivalent GEMM.
        """
        n, c, h, w = x.shape
        p = self.patch_size
        patches = x.reshape(n, c, h // p, p, w // p, p).permute(
            0, 2, 4, 1, 3, 5).reshape(n, (h // p) * (w // p), c * p * p)
        weight = self.patch_embed.weight
        return F.linear(patches, weight.reshape(weight.shape[0], -1),
                        self.patch_embed.bias)

    def embed_resized(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, h, w) -> (N, L, embed_dim): the patch tokens of x resized
        (bilinear) to the autoencoder's S x S input.

        Resize and patch embedding are both linear, so when S is a multiple
        of h and w, the patch size a multiple of the scale factors and
        ``align_corners`` is False, they compose exactly into one strided
        convolution on the small map (kernel ``patch/scale + 2``, stride
        ``patch/scale``, replicate padding 1; see
        :func:`patch_resize_weights`): S x S is never built. With
        ``fold_resize=False`` or other sizes the map is resized first.
        """
        size = self.grid * self.patch_size
        h, w = x.shape[-2:]
        if (h, w) == (size, size):
            return self.embed_patches(x)
        rows = patch_resize_weights(h, size, self.patch_size)
        cols = patch_resize_weights(w, size, self.patch_size)
        if not self.fold_resize or self.align_corners or rows is None \
                or cols is None:
            return self.embed_patches(F.interpolate(
                x, size=(size, size), mode='bilinear',
                align_corners=self.align_corners))
        weight = self.patch_embed.weight
        kernel = torch.einsum('ocqr,qu,rv->ocuv', weight,
                              rows.to(weight), cols.to(weight))
        stride = (rows.shape[1] - 2, cols.shape[1] - 2)
        tokens = F.conv2d(F.pad(x, (1, 1, 1, 1), mode='replicate'), kernel,
                          self.patch_embed.bias, stride=stride)
        return tokens.flatten(2).transpose(1, 2)

    def forward(self, x: torch.Tensor, mask_ratio: float,
                generator: Optional[torch.Generator] = None
                ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Reconstruct (N, out_channels, S, S) from a masked view of x
        (N, C, h, w), resized to S x S first (see :meth:`embed_resized`).

        Returns the reconstruction and the (N, L) patch mask.
        """
        tokens = self.embed_resized(x) + self.pos_embed
        tokens, mask, ids_restore = self.random_masking(tokens, mask_ratio,
                                                        generator)
        for block in self.blocks:
            tokens = block(tokens)
        tokens = self.decoder_embed(self.norm(tokens))
        n, kept, dim = tokens.shape
        mask_tokens = self.mask_token.expand(n, self.num_patches - kept, -1)
        tokens = torch.cat([tokens, mask_tokens], dim=1)
        tokens = tokens.gather(1, ids_restore[..., None].expand(-1, -1, dim))
        tokens = tokens + self.decoder_pos_embed
        for block in self.decoder_blocks:
            tokens = block(tokens)
        patches = self.decoder_pred(self.decoder_norm(tokens))
        return self.unpatchify(patches), mask

    def unpatchify(self, patches: torch.Tensor) -> torch.Tensor:
        """(N, L, p*p*C) -> (N, C, grid*p, grid*p)."""
        n, p, c, g = (patches.shape[0], self.patch_size, self.out_channels,
                      self.grid)
        x = patches.reshape(n, g, g, p, p, c)
        return x.permute(0, 5, 1, 3, 2, 4).reshape(n, c, g * p, g * p)

    def reorder_channels(self, state_dict: dict, prefix: str,
                         in_index: torch.Tensor,
                         out_index: torch.Tensor) -> None:
        """Permute, in place, the input channels (``in_index``) of a state
        dict's patch embedding and the channels (``out_index``) its decoder
        predicts for every patch pixel (``p*p*out_channels`` outputs, the
        channel fastest, see :meth:`unpatchify`)."""
        key = prefix + 'patch_embed.weight'
        if key in state_dict:
            state_dict[key] = state_dict[key].index_select(1, in_index)
        for key in (prefix + 'decoder_pred.weight',
                    prefix + 'decoder_pred.bias'):
            if key in state_dict:
                value = state_dict[key]
                state_dict[key] = value.reshape(
                    self.patch_size**2, self.out_channels,
                    *value.shape[1:]).index_select(1, out_index).reshape(
                        value.shape)
