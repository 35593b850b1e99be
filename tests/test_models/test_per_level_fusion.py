"""Per-level fusion (``fusion='per_level'``) against the concatenation, and
the resize folded into the relation predictor's patch embedding."""
import copy

import pytest
import torch
import torch.nn.functional as F

from s4t_mm.models.necks import DeferredConcat
from s4t_mm.models.relation import masked_task_autoencoder
from s4t_mm.models.relation.masked_task_autoencoder import (
    MaskedTaskAutoencoder, patch_resize_weights)
from s4t_mm.registry import MODELS
from .utils import TINY_FUSED_CHANNELS, synthetic_batch, tiny_model_cfg


def _levels(seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(2, c, s, s + 2, generator=g)
            for c, s in ((3, 12), (5, 6), (4, 5))]


@pytest.mark.parametrize('align_corners', [False, True])
def test_conv1x1_per_level_equals_conv1x1_of_the_concatenation(
        align_corners):
    fused = DeferredConcat(_levels(), align_corners)
    weight, bias = torch.randn(7, 12, 1, 1), torch.randn(7)
    assert fused.materialize().shape == (2, 12, 12, 14)
    torch.testing.assert_close(fused.conv1x1(weight, bias),
                               F.conv2d(fused.materialize(), weight, bias),
                               rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match=r'\(O, 12, 1, 1\)'):
        fused.conv1x1(torch.randn(7, 12, 3, 3), None)


def _pair(**kwargs):
    """The same weights built with fusion='concat' and 'per_level'."""
    concat = MODELS.build(tiny_model_cfg(relation=True, fusion='concat',
                                         **kwargs))
    per_level = MODELS.build(tiny_model_cfg(relation=True,
                                            fusion='per_level', **kwargs))
    per_level.load_state_dict(concat.state_dict())  # strict: same names
    return concat, per_level


def test_auto_takes_per_level_when_every_consumer_is_1x1():
    assert MODELS.build(tiny_model_cfg(relation=True)).fusion == 'per_level'
    concat, per_level = _pair()
    assert concat.fusion == 'concat'
    assert isinstance(per_level.extract_feat(torch.randn(1, 3, 32, 32))[0],
                      DeferredConcat)


def test_same_outputs_and_losses_on_both_paths():
    concat, per_level = _pair()
    data = concat.data_preprocessor(synthetic_batch(), training=True)
    results = []
    for model in (concat, per_level):
        model.train()
        torch.manual_seed(3)  # the same patch masks
        losses = model.loss(**data)
        results.append((model(data['inputs'], mode='tensor'), losses))
    (out_c, loss_c), (out_p, loss_p) = results
    for task in out_c:
        torch.testing.assert_close(out_p[task], out_c[task], rtol=1e-5,
                                   atol=1e-5)
    for name in loss_c:
        torch.testing.assert_close(loss_p[name], loss_c[name], rtol=1e-5,
                                   atol=1e-6)


def _s4t_gradients(model, inputs):
    """Gradients of the S4T objective (relation outputs pulled toward the
    detached main outputs), as the adapter computes it."""
    model.train()
    model.zero_grad()
    feats = model.extract_feat(inputs)
    with torch.no_grad():
        main = model.head_outputs(feats)
    predictor = model.relation_predictor
    rel = predictor.reconstruct(predictor.compress(feats),
                                generator=torch.Generator().manual_seed(0))
    loss = sum((model.heads[t].resize(rel[t], inputs.shape[2:]) -
                model.heads[t].resize(main[t], inputs.shape[2:])).pow(2).mean()
               for t in main)
    loss.backward()
    return {n: p.grad for n, p in model.named_parameters()
            if p.grad is not None}


def test_same_s4t_gradients_on_both_paths():
    concat, per_level = _pair()
    inputs = torch.randn(2, 3, 32, 32)
    grads_c = _s4t_gradients(concat, inputs)
    grads_p = _s4t_gradients(per_level, inputs)
    assert set(grads_p) == set(grads_c)
    assert any(n.startswith('relation_predictor.compressor') for n in grads_c)
    assert any(n.startswith('backbone') for n in grads_c)
    for name, grad in grads_c.items():
        torch.testing.assert_close(grads_p[name], grad, rtol=1e-4,
                                   atol=1e-6 * grad.abs().max().item())


def test_checkpoint_of_either_path_loads_into_the_other(tmp_path):
    concat, per_level = _pair()
    inputs = torch.randn(2, 3, 32, 32)
    torch.save(per_level.state_dict(), tmp_path / 'per_level.pth')
    fresh = MODELS.build(tiny_model_cfg(relation=True, fusion='concat'))
    fresh.load_state_dict(torch.load(tmp_path / 'per_level.pth'))
    concat.eval(), per_level.eval(), fresh.eval()
    with torch.no_grad():
        expected = per_level(inputs)
        for model in (concat, fresh):
            out = model(inputs)
            for task in expected:
                torch.testing.assert_close(out[task], expected[task],
                                           rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('blocking, message', [
    (dict(heads=dict(semseg=dict(num_convs=1, channels=8))),
     "'semseg' head"),
    (dict(heads=dict(depth=dict(dropout_ratio=0.1))), "'depth' head"),
    (dict(neck=None), 'no neck'),
    (dict(self_supervised=dict(mae=dict(
        type='MaskedImageReconstruction', in_channels=TINY_FUSED_CHANNELS,
        patch_size=8))), "branch\\(es\\) \\['mae'\\]"),
])
def test_a_consumer_that_needs_the_map_falls_back_to_concat(blocking,
                                                             message):
    cfg = tiny_model_cfg(relation=True)
    for key, value in blocking.items():
        if key == 'heads':
            for task, extra in value.items():
                cfg['heads'][task].update(extra)
        else:
            cfg[key] = value
    if cfg['neck'] is None:
        for head in cfg['heads'].values():
            head['in_channels'] = 16
        cfg['relation_predictor']['in_channels'] = 16
        cfg['relation_predictor']['in_index'] = 1
        for head in cfg['heads'].values():
            head['in_index'] = 1
    model = MODELS.build(cfg)
    assert model.fusion == 'concat'
    assert isinstance(model.extract_feat(torch.randn(2, 3, 32, 32))[0],
                      torch.Tensor)
    with pytest.raises(ValueError, match=message):
        MODELS.build(dict(cfg, fusion='per_level'))


def test_mmseg_decode_head_falls_back_to_concat():
    cfg = tiny_model_cfg(relation=True)
    cfg['heads']['semseg'] = dict(
        type='SemSegHead', num_classes=4, decoder=dict(
            type='mmseg.FCNHead', in_channels=TINY_FUSED_CHANNELS,
            channels=8, num_convs=1, num_classes=4, in_index=0))
    model = MODELS.build(cfg)
    assert model.fusion == 'concat'
    out = model(torch.randn(2, 3, 32, 32))
    assert out['semseg'].shape == (2, 4, 32, 32)


def test_a_3x3_head_given_deferred_levels_reads_the_built_map():
    head = MODELS.build(dict(type='DepthHead', in_channels=12, channels=4,
                             num_convs=1))
    head.eval()
    fused = DeferredConcat(_levels(), align_corners=False)
    torch.testing.assert_close(head((fused, )),
                               head((fused.materialize(), )))


def test_unknown_fusion_and_memory_format_are_rejected():
    with pytest.raises(ValueError, match="unknown fusion 'levels'"):
        MODELS.build(tiny_model_cfg(fusion='levels'))
    with pytest.raises(ValueError, match="unknown memory_format 'nhwc'"):
        MODELS.build(tiny_model_cfg(memory_format='nhwc'))


def test_channels_last_changes_the_layout_not_the_values():
    model = MODELS.build(tiny_model_cfg(relation=True,
                                        memory_format='contiguous'))
    other = MODELS.build(tiny_model_cfg(relation=True,
                                        memory_format='channels_last'))
    other.load_state_dict(model.state_dict())
    inputs = torch.randn(2, 3, 32, 32)
    model.eval(), other.eval()
    assert other.extract_feat(inputs)[0].levels[0].is_contiguous(
        memory_format=torch.channels_last)
    expected, out = model(inputs), other(inputs)
    for task in expected:
        torch.testing.assert_close(out[task], expected[task], rtol=1e-4,
                                   atol=1e-5)


def _autoencoder(input_size=16, patch_size=8, **kwargs):
    return MaskedTaskAutoencoder(6, 2, input_size=input_size,
                                 patch_size=patch_size, embed_dim=8, depth=1,
                                 num_heads=2, decoder_embed_dim=8,
                                 decoder_depth=1, decoder_num_heads=2,
                                 **kwargs)


def test_patch_resize_weights():
    w = patch_resize_weights(4, 16, 8)  # scale 4, 2 input pixels a patch
    assert w.shape == (8, 4)
    torch.testing.assert_close(w.sum(1), torch.ones(8, dtype=torch.float64))
    assert w[0].tolist() == [0.375, 0.625, 0.0, 0.0]
    assert patch_resize_weights(6, 16, 8) is None  # 16 / 6 is no integer
    assert patch_resize_weights(4, 16, 2) is None  # 2 % 4 != 0


@pytest.mark.parametrize('size, input_size, patch_size', [
    ((4, 4), 16, 8), ((8, 4), 16, 8), ((2, 8), 16, 8), ((8, 8), 32, 8)])
def test_folded_resize_and_patch_embedding_equal_resize_then_embed(
        size, input_size, patch_size, monkeypatch):
    ae = _autoencoder(input_size=input_size, patch_size=patch_size,
                      fold_resize=False)
    x = torch.randn(2, 6, *size, requires_grad=True)
    expected = ae.embed_resized(x)
    ae.fold_resize = True
    grads = torch.autograd.grad(expected.square().sum(),
                                [x, ae.patch_embed.weight])
    with monkeypatch.context() as m:  # the folded path never resizes
        m.setattr(masked_task_autoencoder.F, 'interpolate', None)
        folded = ae.embed_resized(x)
    torch.testing.assert_close(folded, expected, rtol=1e-5, atol=1e-5)
    for got, want in zip(torch.autograd.grad(
            folded.square().sum(), [x, ae.patch_embed.weight]), grads):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize('size, align_corners', [((5, 5), False),
                                                 ((4, 4), True)])
def test_resize_is_not_folded_where_it_would_not_be_exact(size,
                                                          align_corners):
    ae = _autoencoder(align_corners=align_corners)
    x = torch.randn(2, 6, *size)
    expected = ae.embed_patches(F.interpolate(
        x, size=(16, 16), mode='bilinear', align_corners=align_corners))
    torch.testing.assert_close(ae.embed_resized(x), expected)


def test_relation_outputs_with_and_without_folding():
    cfg = tiny_model_cfg(relation=True)
    model = MODELS.build(cfg)
    cfg = copy.deepcopy(cfg)
    cfg['relation_predictor']['fold_resize'] = False
    unfolded = MODELS.build(cfg)
    unfolded.load_state_dict(model.state_dict())
    feats = model.extract_feat(torch.randn(2, 3, 32, 32))
    outs = [m.relation_outputs(feats,
                               generator=torch.Generator().manual_seed(0))
            for m in (model, unfolded)]
    for task, rel in outs[1]['rel'].items():
        torch.testing.assert_close(outs[0]['rel'][task], rel, rtol=1e-5,
                                   atol=1e-5)
