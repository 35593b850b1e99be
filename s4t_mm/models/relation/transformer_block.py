"""Pre-norm ViT block (attention + MLP), the building block of the relation
predictor's masked autoencoder."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class TransformerBlock(nn.Module):
    """``x + attn(norm(x))`` then ``x + mlp(norm(x))``.

    Args:
        dim: token width.
        num_heads: attention heads; must divide ``dim``.
        mlp_ratio: hidden width of the MLP relative to ``dim``.

    Shapes: (N, L, dim) -> (N, L, dim).
    """

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float = 4.0):
        super().__init__()
        if dim % num_heads:
            raise ValueError(f'num_heads={num_heads} does not divide the '
                             f'token width {dim}')
        self.num_heads = num_heads
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        hidden = int(dim * mlp_ratio)
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, length, dim = x.shape
        qkv = self.qkv(self.norm1(x)).reshape(n, length, 3, self.num_heads,
                                              dim // self.num_heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)
        attn = F.scaled_dot_product_attention(q, k, v)
        x = x + self.proj(attn.transpose(1, 2).reshape(n, length, dim))
        return x + self.fc2(F.gelu(self.fc1(self.norm2(x))))
