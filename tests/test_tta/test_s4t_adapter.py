import pytest
import torch

from s4t_mm.registry import ADAPTERS, MODELS
from ..test_models.utils import synthetic_batch, tiny_model_cfg


def _model():
    model = MODELS.build(tiny_model_cfg(relation=True))
    model.init_weights()
    return model


def _inputs(model, seed=0):
    return model.data_preprocessor(synthetic_batch(seed=seed))['inputs']


def _state(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_gradients_reach_backbone_and_relation_predictor_not_heads():
    model = _model()
    adapter = ADAPTERS.build(dict(type='S4TAdapter')).bind(model)
    model.train()
    loss = sum(adapter.objective(model, _inputs(model)).values())
    loss.backward()

    def has_grad(module):
        return any(p.grad is not None and p.grad.abs().sum() > 0
                   for p in module.parameters())

    assert has_grad(model.backbone)
    assert has_grad(model.relation_predictor.compressor)
    assert has_grad(model.relation_predictor.autoencoder)
    assert not has_grad(model.heads)
    assert not has_grad(model.relation_predictor.aux_heads)


def test_adaptation_moves_only_the_adapted_parameters():
    model = _model()
    before = _state(model)
    adapter = ADAPTERS.build(dict(type='S4TAdapter', optimizer=dict(
        type='SGD', lr=0.1))).bind(model)
    adapter.adapt(_inputs(model), steps=3)
    after = model.state_dict()
    moved = {k for k in before if not torch.equal(before[k], after[k])}
    assert any(k.startswith('backbone.') for k in moved)
    assert any(k.startswith('relation_predictor.autoencoder.') for k in moved)
    assert not any(k.startswith('heads.') for k in moved)
    assert not any(k.startswith('relation_predictor.aux_heads.')
                   for k in moved)
    assert adapter.stats['steps'] == 3


def test_objective_decreases_over_steps():
    model = _model()
    adapter = ADAPTERS.build(dict(
        type='S4TAdapter', loss_weight=1.0, norm_policy='source_stats',
        optimizer=dict(type='Adam', lr=1e-3))).bind(model)
    inputs = _inputs(model)
    model.eval()

    def objective():
        torch.manual_seed(123)  # same mask every time
        with torch.no_grad():
            return float(sum(adapter.objective(model, inputs).values()))

    first = objective()
    adapter.adapt(inputs, steps=20)
    assert objective() < 0.8 * first


def test_squared_task_weights():
    model = MODELS.build(tiny_model_cfg(
        relation=True, loss_combiner=dict(
            type='TaskWeightCombiner', weights=dict(normals=10.0))))
    plain = MODELS.build(tiny_model_cfg(relation=True))
    plain.load_state_dict(model.state_dict())
    inputs = _inputs(model)
    terms = []
    for m in (model, plain):
        adapter = ADAPTERS.build(dict(type='S4TAdapter')).bind(m)
        torch.manual_seed(5)
        m.eval()
        with torch.no_grad():
            terms.append(adapter.objective(m, inputs))
    torch.testing.assert_close(terms[0]['normals.s4t'],
                               100 * terms[1]['normals.s4t'])
    torch.testing.assert_close(terms[0]['depth.s4t'], terms[1]['depth.s4t'])


def test_uncertainty_weighting_starts_at_half_and_is_reset():
    model = _model()
    adapter = ADAPTERS.build(dict(type='S4TAdapter', weighting='uncertainty',
                                  optimizer=dict(type='SGD', lr=1.0)))
    adapter.bind(model)
    assert torch.equal(adapter.combiner.scales, torch.ones(4))
    adapter.adapt(_inputs(model), steps=2)
    assert not torch.equal(adapter.combiner.scales, torch.ones(4))
    adapter.reset()
    assert torch.equal(adapter.combiner.scales, torch.ones(4))


def test_model_without_relation_predictor_is_rejected():
    model = MODELS.build(tiny_model_cfg())
    with pytest.raises(ValueError, match='needs a model with a '
                       'relation_predictor'):
        ADAPTERS.build(dict(type='S4TAdapter')).bind(model)


def test_bad_options_name_valid_choices():
    with pytest.raises(ValueError, match='valid: squared_task_weights, '
                       'uncertainty'):
        ADAPTERS.build(dict(type='S4TAdapter', weighting='equal'))
    with pytest.raises(ValueError, match='valid: batch_stats, source_stats'):
        ADAPTERS.build(dict(type='S4TAdapter', norm_policy='frozen'))


def _objective_terms(adapter, model, inputs, seed=5):
    torch.manual_seed(seed)
    model.eval()
    with torch.no_grad():
        return adapter.objective(model, inputs)


def test_task_weights_replace_the_model_weights():
    model = _model()
    inputs = _inputs(model)
    plain = ADAPTERS.build(dict(type='S4TAdapter')).bind(model)
    weighted = ADAPTERS.build(dict(
        type='S4TAdapter', task_weights=dict(semseg=1.0, depth=2.0,
                                             normals=10.0, edge=50.0)))
    weighted.bind(model)
    a = _objective_terms(plain, model, inputs)
    b = _objective_terms(weighted, model, inputs)
    # every source weight of the tiny model is 1, so terms scale by w^2
    for task, w in dict(semseg=1.0, depth=2.0, normals=10.0,
                        edge=50.0).items():
        torch.testing.assert_close(b[f'{task}.s4t'], w**2 * a[f'{task}.s4t'])
    with pytest.raises(ValueError, match=r"missing: \['edge'\]"):
        ADAPTERS.build(dict(type='S4TAdapter', task_weights=dict(
            semseg=1.0, depth=1.0, normals=1.0))).bind(model)


def test_activated_comparison_is_bounded_and_matches_by_hand():
    model = _model()
    inputs = _inputs(model)
    adapter = ADAPTERS.build(dict(type='S4TAdapter', compare='activated',
                                  loss_weight=1.0)).bind(model)
    terms = _objective_terms(adapter, model, inputs)
    # recompute the semseg term by hand: L1 between class probabilities
    torch.manual_seed(5)
    with torch.no_grad():
        feats = model.extract_feat(inputs)
        main = model.head_outputs(feats)['semseg']
        rel = model.relation_predictor.reconstruct(
            model.relation_predictor.compress(feats))['semseg']
    head = model.heads['semseg']
    size = inputs.shape[2:]
    expected = (head.resize(rel, size).softmax(1) -
                head.resize(main, size).softmax(1)).abs().mean(
                    dim=(0, 2, 3)).sum()
    torch.testing.assert_close(terms['semseg.s4t'], expected)
    # probabilities differ by at most 2 in L1 summed over classes; unit
    # normals by at most 2 per channel
    assert 0 < float(terms['semseg.s4t']) <= 2
    assert 0 < float(terms['normals.s4t']) <= 6


def test_initial_task_balance_starts_every_task_at_lambda():
    model = _model()
    inputs = _inputs(model)
    adapter = ADAPTERS.build(dict(
        type='S4TAdapter', task_balance='initial',
        task_weights=dict(semseg=1.0, depth=1.0, normals=1.0, edge=3.0),
        optimizer=dict(type='SGD', lr=1e-3))).bind(model)
    adapter.adapt(inputs, steps=1)
    # the first step's terms are lam = 0.01 each: the weights do not apply
    start = {f'{t}.s4t': 0.01 for t in ('semseg', 'depth', 'normals',
                                        'edge')}
    assert adapter.last_losses == pytest.approx(start)
    # later steps are relative to the first; a new batch measures afresh
    adapter.adapt(inputs, steps=2)
    assert adapter.last_losses != pytest.approx(start)
    adapter.adapt(_inputs(model, seed=1), steps=1)
    assert adapter.last_losses == pytest.approx(start)


def test_norm_parameters_only_and_frozen_relation_predictor():
    model = _model()
    before = _state(model)
    adapter = ADAPTERS.build(dict(
        type='S4TAdapter', parameters='norm', adapt_modules=('backbone', ),
        norm_policy='source_stats',
        optimizer=dict(type='SGD', lr=0.5))).bind(model)
    names = [n for n, _ in adapter.adapted]
    assert names and all(n.startswith('backbone.') and
                         n.rsplit('.', 1)[-1] in ('weight', 'bias')
                         for n in names)
    assert not any('conv' in n.rsplit('.', 2)[-2] for n in names)
    adapter.adapt(_inputs(model), steps=2)
    after = model.state_dict()
    moved = {k for k in before if not torch.equal(before[k], after[k])}
    assert moved and moved <= set(names)


def test_anchor_term_is_the_squared_distance_to_the_source():
    model = _model()
    inputs = _inputs(model)
    adapter = ADAPTERS.build(dict(
        type='S4TAdapter', anchor_weight=0.5, adapt_modules=('backbone', ),
        optimizer=dict(type='SGD', lr=0.1))).bind(model)
    # the anchor is the source snapshot's own copy, not another one
    saved = adapter.snapshot.saved()
    assert [t.data_ptr() for t in adapter._anchor] == [
        saved[n].data_ptr() for n, _ in adapter.adapted]
    assert float(_objective_terms(adapter, model, inputs)['anchor']) == 0
    with torch.no_grad():
        first = adapter.adapted[0][1]
        first.add_(0.1)
    expected = 0.5 * 0.01 * first.numel()
    assert float(_objective_terms(adapter, model, inputs)['anchor']) == \
        pytest.approx(expected, rel=1e-4)
    # the anchor's gradient pulls back: with lam = 0 one SGD step of
    # lr 0.5 * (2 * 0.5 * 0.1) removes half of the offset
    adapter.loss_weight = 0.0
    adapter.optimizer.param_groups[0]['lr'] = 0.5
    adapter.adapt(inputs, steps=1)
    assert float(_objective_terms(adapter, model, inputs)['anchor']) == \
        pytest.approx(expected / 4, rel=1e-3)
    adapter.reset()
    assert float(_objective_terms(adapter, model, inputs)['anchor']) == 0
    with pytest.raises(ValueError, match='valid: raw, activated'):
        ADAPTERS.build(dict(type='S4TAdapter', compare='probabilities'))
    with pytest.raises(ValueError, match='valid: all, norm'):
        ADAPTERS.build(dict(type='S4TAdapter', parameters='heads'))


def test_best_consistency_ends_on_the_lowest_scoring_state(monkeypatch):
    def build(model):
        return ADAPTERS.build(dict(
            type='S4TAdapter', select_state='best_consistency',
            check_interval=2, adapt_modules=('backbone', ),
            optimizer=dict(type='SGD', lr=0.5))).bind(model)

    def seeded_model():
        torch.manual_seed(0)
        return _model()

    inputs = _inputs(seeded_model())
    # the state after 2 of 6 steps, adapted without the rule
    reference = seeded_model()
    plain = ADAPTERS.build(dict(
        type='S4TAdapter', adapt_modules=('backbone', ),
        optimizer=dict(type='SGD', lr=0.5))).bind(reference)
    plain.adapt(inputs, steps=2, seed=7)
    # scores before adapting and after steps 2, 4, 6: best after step 2
    model = seeded_model()
    adapter = build(model)
    scores = iter([1.0, 0.5, 0.8, 0.6])
    monkeypatch.setattr(adapter, 'consistency', lambda x: next(scores))
    adapter.adapt(inputs, steps=6, seed=7)
    assert adapter.stats['rolled_back_steps'] == 4
    # a later failure is undone to the rolled-back state, not past it
    assert adapter.guard.good.matches()
    expected = reference.state_dict()
    assert all(torch.equal(v, expected[k])
               for k, v in model.state_dict().items())
    # all scores worse than the start: back to the source state, bitwise
    model = _model()
    source = _state(model)
    adapter = build(model)
    scores = iter([1.0, 2.0, 3.0])
    monkeypatch.setattr(adapter, 'consistency', lambda x: next(scores))
    adapter.adapt(inputs, steps=4, seed=7)
    assert adapter.stats['rolled_back_steps'] == 4
    assert all(torch.equal(v, source[k])
               for k, v in model.state_dict().items())


def test_consistency_is_the_objective_under_a_fixed_mask():
    model = _model()
    inputs = _inputs(model)
    adapter = ADAPTERS.build(dict(
        type='S4TAdapter', select_state='best_consistency',
        anchor_weight=1.0)).bind(model)
    model.train()
    first = adapter.consistency(inputs)
    assert model.training  # the mode is restored
    assert adapter.consistency(inputs) == first  # same mask every time
    adapter.generator = torch.Generator().manual_seed(0)
    model.eval()
    with torch.no_grad():
        terms = adapter.objective(model, inputs)
    assert first == pytest.approx(float(sum(
        v for k, v in terms.items() if k != 'anchor')))
    with pytest.raises(ValueError, match='valid: last, best_consistency'):
        ADAPTERS.build(dict(type='S4TAdapter', select_state='best'))
    with pytest.raises(ValueError, match='check_interval must be >= 1'):
        ADAPTERS.build(dict(type='S4TAdapter', check_interval=0))


def _paired_terms(pairing, seed=5):
    torch.manual_seed(0)  # the same model for both pairings
    model = _model()
    adapter = ADAPTERS.build(dict(
        type='S4TAdapter', weighting='squared_task_weights',
        task_weights=dict(semseg=1.0, depth=1.0, normals=1.0, edge=1.0),
        task_pairing=pairing,
        reference_pair='nyud_taskonomy' if pairing == 'reference' else None,
    )).bind(model)
    inputs = _inputs(model)
    model.eval()
    torch.manual_seed(seed)
    with torch.no_grad():
        terms = adapter.objective(model, inputs)
    torch.manual_seed(seed)
    with torch.no_grad():
        outputs = model.relation_consistency(inputs)
    return terms, outputs


def _l1(recon, target):
    return 0.01 * (recon - target).abs().mean(dim=(0, 2, 3)).sum()


def test_reference_pairing_compares_main_heads_with_the_references_channels():
    # NYUD-v2 -> Taskonomy: trained in the order semseg, depth, normals,
    # edge; the reference's test-time model splits in the order depth,
    # edge, normals, semseg
    terms, out = _paired_terms('reference')
    rec, main = out.reconstructed, out.main
    joint = torch.cat([rec['semseg'], rec['depth'], rec['normals'],
                       rec['edge']], dim=1)
    semseg_ch = rec['semseg'].shape[1]
    expected = dict(depth=joint[:, 0:1], edge=joint[:, 1:2],
                    normals=joint[:, 2:5], semseg=joint[:, 5:5 + semseg_ch])
    for task, recon in expected.items():
        assert torch.allclose(terms[f'{task}.s4t'], _l1(recon, main[task]),
                              rtol=1e-6, atol=0)
    # the depth head is pulled toward semseg logit 0, not toward depth
    assert torch.allclose(terms['depth.s4t'],
                          _l1(rec['semseg'][:, :1], main['depth']),
                          rtol=1e-6, atol=0)
    consistent, _ = _paired_terms('consistent')
    assert not torch.allclose(terms['depth.s4t'], consistent['depth.s4t'])
    assert torch.allclose(consistent['depth.s4t'],
                          _l1(rec['depth'], main['depth']), rtol=1e-6,
                          atol=0)


@pytest.mark.parametrize('cfg,message', [
    (dict(task_pairing='scrambled'), "unknown task_pairing 'scrambled'"),
    (dict(task_pairing='reference'), 'reference_pair'),
    (dict(task_pairing='reference', reference_pair='nyud_pascal'),
     "unknown reference_pair 'nyud_pascal'"),
    (dict(task_pairing='reference', reference_pair='nyud_taskonomy',
          compare='activated'), "compare='raw'"),
])
def test_task_pairing_errors(cfg, message):
    with pytest.raises(ValueError, match=message):
        ADAPTERS.build(dict(type='S4TAdapter', **cfg))


def test_reference_pairing_needs_the_pairs_tasks():
    adapter = ADAPTERS.build(dict(type='S4TAdapter', task_pairing='reference',
                                  reference_pair='pascal_taskonomy'))
    with pytest.raises(ValueError, match='pascal_taskonomy pairs the tasks'):
        adapter.bind(_model())
