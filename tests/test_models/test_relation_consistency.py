"""The model's own API for what adapters and the relation metric read:
``relation_consistency``, ``relation_views``, ``task_weight``,
``task_outputs``. Each returns bit for bit what the chain of internals it
replaces (extract_feat -> head_outputs -> compress -> reconstruct -> resize
/ activate_soft) computes."""
import pytest
import torch
import torch.nn.functional as F

from s4t_mm.registry import MODELS
from .utils import synthetic_batch, tiny_model_cfg

SIZE = (32, 32)


def _model(fusion='auto', **kwargs):
    torch.manual_seed(42)
    model = MODELS.build(tiny_model_cfg(relation=True, fusion=fusion,
                                        **kwargs))
    model.init_weights()
    return model


def _inputs(model):
    return model.data_preprocessor(synthetic_batch())['inputs']


def _by_hand(model, inputs, seed, mask_ratio=None, visible_tasks=None):
    """(main, reconstructed, aux) raw at the input size, from the
    internals."""
    feats = model.extract_feat(inputs)
    with torch.no_grad():
        main = model.head_outputs(feats)
    predictor = model.relation_predictor
    compressed = predictor.compress(feats)
    rel = predictor.reconstruct(compressed, mask_ratio,
                                torch.Generator().manual_seed(seed),
                                visible_tasks=visible_tasks)
    aux = predictor.aux_outputs(compressed)

    def resized(outputs):
        return {t: model.heads[t].resize(x, SIZE) for t, x in outputs.items()}

    return resized(main), resized(rel), resized(aux)


def _assert_equal(actual, expected):
    assert list(actual) == list(expected)
    for task in expected:
        assert torch.equal(actual[task], expected[task]), task


@pytest.mark.parametrize('fusion', ['per_level', 'concat'])
def test_raw_consistency_is_the_old_chain_bit_for_bit(fusion):
    model = _model(fusion)
    model.train()
    inputs = _inputs(model)
    main, rel, aux = _by_hand(model, inputs, seed=3)
    out = model.relation_consistency(
        inputs, generator=torch.Generator().manual_seed(3),
        outputs=('reconstructed', 'aux'))
    _assert_equal(out.main, main)
    _assert_equal(out.reconstructed, rel)
    _assert_equal(out.aux, aux)
    assert out.main['semseg'].shape == (2, 4, *SIZE)
    # the main outputs are the target: no gradient flows into the heads
    assert not any(x.requires_grad for x in out.main.values())
    assert all(x.requires_grad for x in out.reconstructed.values())


def test_gradients_are_those_of_the_old_chain():
    model = _model()
    model.train()
    inputs = _inputs(model)
    grads = []
    for use_api in (False, True):
        model.zero_grad(set_to_none=True)
        if use_api:
            out = model.relation_consistency(
                inputs, generator=torch.Generator().manual_seed(0))
            main, rel = out.main, out.reconstructed
        else:
            main, rel, _ = _by_hand(model, inputs, seed=0)
        sum((rel[t] - main[t]).abs().mean() for t in main).backward()
        grads.append({n: p.grad.clone() for n, p in model.named_parameters()
                      if p.grad is not None})
    assert grads[0].keys() == grads[1].keys()
    assert not any(n.startswith('heads.') for n in grads[0])
    assert all(torch.equal(grads[0][n], grads[1][n]) for n in grads[0])


def test_activated_space_applies_activate_soft_after_the_resize():
    model = _model()
    model.eval()
    inputs = _inputs(model)
    with torch.no_grad():
        main, rel, _ = _by_hand(model, inputs, seed=1, mask_ratio=0.0)
        out = model.relation_consistency(
            inputs, space='activated', mask_ratio=0.0,
            generator=torch.Generator().manual_seed(1))
    for task, head in model.heads.items():
        assert torch.equal(out.main[task], head.activate_soft(main[task]))
        assert torch.equal(out.reconstructed[task],
                           head.activate_soft(rel[task]))
    ones = torch.ones(2, *SIZE)
    torch.testing.assert_close(out.reconstructed['semseg'].sum(1), ones)
    torch.testing.assert_close(out.main['normals'].norm(dim=1), ones)
    assert 0 < float(out.main['edge'].min()) <= float(
        out.main['edge'].max()) < 1


def test_aux_only_draws_no_random_number():
    model = _model()
    model.eval()
    inputs = _inputs(model)
    state = torch.get_rng_state()
    with torch.no_grad():
        out = model.relation_consistency(inputs, outputs=('aux', ))
        _, _, aux = _by_hand(model, inputs, seed=0)
    assert torch.equal(torch.get_rng_state(), state)
    assert out.reconstructed is None
    _assert_equal(out.aux, aux)


def test_mask_ratio_defaults_to_the_predictor_and_can_be_overridden():
    model = _model()
    model.eval()
    inputs = _inputs(model)
    with torch.no_grad():
        default = model.relation_consistency(
            inputs, generator=torch.Generator().manual_seed(2))
        configured = model.relation_consistency(
            inputs, mask_ratio=0.75,
            generator=torch.Generator().manual_seed(2))
        _, unmasked, _ = _by_hand(model, inputs, seed=2, mask_ratio=0.0)
        shown = model.relation_consistency(
            inputs, mask_ratio=0.0,
            generator=torch.Generator().manual_seed(2))
    _assert_equal(default.reconstructed, configured.reconstructed)
    _assert_equal(shown.reconstructed, unmasked)
    assert not torch.equal(shown.reconstructed['depth'],
                           default.reconstructed['depth'])


def test_relation_views_reconstruct_each_view_under_the_same_mask():
    model = _model()
    model.eval()
    inputs = _inputs(model)
    views = [('semseg', ), ('depth', 'edge'), tuple(model.tasks), ()]
    with torch.no_grad():
        probes = model.relation_views(inputs, views, space='activated',
                                      seed=4)
        consistency = model.relation_consistency(inputs, space='activated',
                                                 outputs=())
        for view in views:
            main, rel, _ = _by_hand(model, inputs, seed=4, mask_ratio=0.0,
                                    visible_tasks=view)
            for task, head in model.heads.items():
                assert torch.equal(probes.reconstructed[view][task],
                                   head.activate_soft(rel[task]))
    assert list(probes.reconstructed) == views
    _assert_equal(probes.main, consistency.main)
    for task, head in model.heads.items():
        assert torch.equal(probes.main[task], head.activate_soft(main[task]))
    # a view with every task is the unmasked reconstruction of all tasks
    every = model.relation_consistency(
        inputs, space='activated', mask_ratio=0.0,
        generator=torch.Generator().manual_seed(4))
    _assert_equal(probes.reconstructed[tuple(model.tasks)],
                  every.reconstructed)


@pytest.mark.parametrize('fusion', ['concat', 'per_level'])
def test_task_outputs_are_the_raw_head_outputs(fusion):
    """Every head's 1x1 convolution of the fused map, computed by hand from
    the backbone's levels (the second resized to the first, concatenated),
    at the feature resolution, not activated; ``mode='tensor'`` is the same
    resized to the input."""
    model = _model(fusion=fusion)
    inputs = _inputs(model)
    with torch.no_grad():
        levels = model.backbone(inputs)
        fused = torch.cat([levels[0], F.interpolate(
            levels[1], size=levels[0].shape[2:], mode='bilinear',
            align_corners=False)], dim=1)
        outputs = model.task_outputs(inputs)
        resized = model(inputs, mode='tensor')
    assert list(outputs) == model.tasks
    for task, head in model.heads.items():
        conv = head.conv_out
        expected = F.conv2d(fused, conv.weight, conv.bias)
        torch.testing.assert_close(outputs[task], expected)
        torch.testing.assert_close(resized[task], F.interpolate(
            expected, size=inputs.shape[2:], mode='bilinear',
            align_corners=False))
    assert outputs['semseg'].shape == (2, 4, 8, 8)  # feature resolution
    assert outputs['depth'].min() < 0  # raw: not clamped at min_depth


def test_task_weight_reads_the_source_loss_combiner():
    fixed = _model(loss_combiner=dict(type='TaskWeightCombiner',
                                      weights=dict(normals=10.0),
                                      default_weight=0.5))
    assert fixed.task_weight('normals') == 10.0
    assert fixed.task_weight('depth') == 0.5
    learned = _model(loss_combiner=dict(type='UncertaintyWeightCombiner'))
    with torch.no_grad():
        learned.loss_combiner.scales[learned.tasks.index('edge')] = 2.0
    assert learned.task_weight('edge') == 0.125
    assert learned.task_weight('semseg') == 0.5
    assert isinstance(learned.task_weight('semseg'), float)
    with pytest.raises(KeyError, match="unknown task 'nromals'; registered "
                       'task heads: semseg, depth, normals, edge'):
        fixed.task_weight('nromals')


def test_a_model_without_relation_predictor_says_so():
    model = MODELS.build(tiny_model_cfg())
    inputs = _inputs(model)
    for call in (lambda: model.relation_consistency(inputs),
                 lambda: model.relation_views(inputs, [()])):
        with pytest.raises(RuntimeError,
                           match='this model has no relation_predictor'):
            call()


def test_unknown_space_and_output_name_the_valid_choices():
    model = _model()
    inputs = _inputs(model)
    with pytest.raises(ValueError, match="unknown space 'prob'; valid: raw, "
                       'activated'):
        model.relation_consistency(inputs, space='prob')
    with pytest.raises(ValueError, match="unknown space 'prob'"):
        model.relation_views(inputs, [()], space='prob')
    with pytest.raises(ValueError, match=r"unknown relation output\(s\) "
                       r"\['rel'\]; valid: reconstructed, aux"):
        model.relation_consistency(inputs, outputs=('rel', ))
