import math

import pytest
import torch

from s4t_mm.models.relation.masked_task_autoencoder import (
    MaskedTaskAutoencoder, sincos_pos_embed_2d)
from s4t_mm.registry import MODELS

TASKS = dict(semseg=4, depth=1, normals=3)


def _predictor(mask_ratio=0.75):
    return MODELS.build(dict(
        type='TaskRelationPredictor', in_channels=10, task_channels=TASKS,
        task_feat_channels=4, input_size=16, mask_ratio=mask_ratio,
        autoencoder=dict(patch_size=4, embed_dim=16, depth=1, num_heads=2,
                         decoder_embed_dim=8, decoder_depth=1,
                         decoder_num_heads=2)))


def test_shapes_of_aux_and_relation_outputs():
    out = _predictor()((torch.randn(2, 10, 8, 8), ))
    assert {t: tuple(x.shape) for t, x in out['aux'].items()} == {
        'semseg': (2, 4, 8, 8), 'depth': (2, 1, 8, 8),
        'normals': (2, 3, 8, 8)}
    assert {t: tuple(x.shape) for t, x in out['rel'].items()} == {
        'semseg': (2, 4, 16, 16), 'depth': (2, 1, 16, 16),
        'normals': (2, 3, 16, 16)}


@pytest.mark.parametrize('ratio', [0.0, 0.5, 0.8, 0.9])
def test_kept_patch_count_is_floor_of_unmasked_share(ratio):
    ae = MaskedTaskAutoencoder(4, 2, input_size=20, patch_size=4,
                               embed_dim=8, depth=1, num_heads=2,
                               decoder_embed_dim=8, decoder_depth=1,
                               decoder_num_heads=2)
    kept, mask, _ = ae.random_masking(torch.randn(3, 25, 8), ratio)
    assert kept.shape == (3, math.floor(25 * (1 - ratio)), 8)
    assert (mask.sum(1) == 25 - kept.shape[1]).all()


def test_masks_differ_per_sample_and_kept_tokens_are_the_unmasked_ones():
    ae = MaskedTaskAutoencoder(4, 2, input_size=32, patch_size=4,
                               embed_dim=8, depth=1, num_heads=2,
                               decoder_embed_dim=8, decoder_depth=1,
                               decoder_num_heads=2)
    tokens = torch.arange(64.0).view(1, 64, 1).repeat(4, 1, 8)
    kept, mask, _ = ae.random_masking(tokens, 0.8)
    assert len({tuple(m.tolist()) for m in mask}) == 4
    for i in range(4):
        unmasked = torch.nonzero(mask[i] == 0).flatten().float()
        assert sorted(kept[i, :, 0].tolist()) == unmasked.tolist()


def test_every_task_is_reconstructed_from_the_masked_view():
    """Targets that only the visible patches can explain: each sample's
    features carry its own amplitude (a shared code times -1 ... 1, plus
    noise), and every task's target is that amplitude times a horizontal
    ramp. Half the patches are hidden, a fresh mask each pass, so a masked
    patch's target must be read from the visible ones; no output that
    ignores the input (what a bias learns) gets within 4x of the fit."""
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    pred = _predictor(mask_ratio=0.5)
    amplitude = torch.tensor([-1.0, -0.5, 0.5, 1.0]).view(4, 1, 1, 1)
    code = torch.randn(1, 10, 1, 1, generator=g)
    feats = (amplitude * code + 0.1 * torch.randn(4, 10, 8, 8, generator=g),
             )
    ramp = 0.5 * (1 + torch.linspace(-1, 1, 16)).view(1, 1, 1, 16)
    targets = {t: amplitude * (i + 1) * ramp.expand(4, c, 16, 16)
               for i, (t, c) in enumerate(TASKS.items())}

    def error(rel):
        return sum(float((rel[t] - targets[t]).abs().mean()) for t in TASKS)

    # the best output that does not depend on the sample: the median over
    # the samples, pixel by pixel (here also the mean, which is 0)
    input_free = error({t: targets[t].median(0, keepdim=True).values
                        for t in TASKS})
    opt = torch.optim.Adam(pred.parameters(), lr=1e-2)
    for _ in range(300):
        rel = pred(feats)['rel']
        loss = sum((rel[t] - targets[t]).abs().mean() for t in TASKS)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        fitted = error(pred(feats)['rel'])
    assert input_free > 2.0
    assert fitted < input_free / 4


def test_position_embedding_is_fixed_sincos():
    emb = sincos_pos_embed_2d(8, 3)
    assert emb.shape == (9, 8)
    # token (row 0, col 1): first half encodes the column, second the row
    torch.testing.assert_close(emb[1, :2],
                               torch.sin(torch.tensor([1.0, 0.01])))
    torch.testing.assert_close(emb[1, 4:6], torch.zeros(2))
    ae = MaskedTaskAutoencoder(4, 2, input_size=8, patch_size=4, embed_dim=8,
                               depth=1, num_heads=2, decoder_embed_dim=8,
                               decoder_depth=1, decoder_num_heads=2)
    assert not ae.pos_embed.requires_grad
    assert not ae.decoder_pos_embed.requires_grad


def test_unpatchify_inverts_patch_order():
    ae = MaskedTaskAutoencoder(4, 2, input_size=8, patch_size=4, embed_dim=8,
                               depth=1, num_heads=2, decoder_embed_dim=8,
                               decoder_depth=1, decoder_num_heads=2)
    img = torch.arange(2 * 8 * 8.0).view(1, 2, 8, 8)
    patches = img.view(1, 2, 2, 4, 2, 4).permute(0, 2, 4, 3, 5, 1).reshape(
        1, 4, 32)
    torch.testing.assert_close(ae.unpatchify(patches), img)


def test_bad_sizes_are_rejected():
    with pytest.raises(ValueError, match='not a multiple of patch_size'):
        MaskedTaskAutoencoder(4, 2, input_size=10, patch_size=4)
    with pytest.raises(ValueError, match=r'mask_ratio must lie in \[0, 1\)'):
        _predictor(mask_ratio=1.0)


def test_patch_embedding_matches_the_strided_convolution():
    ae = MaskedTaskAutoencoder(5, 2, input_size=16, patch_size=4,
                               embed_dim=8, depth=1, num_heads=2,
                               decoder_embed_dim=8, decoder_depth=1,
                               decoder_num_heads=2)
    x = torch.randn(2, 5, 16, 16)
    expected = ae.patch_embed(x).flatten(2).transpose(1, 2)
    torch.testing.assert_close(ae.embed_patches(x), expected)
