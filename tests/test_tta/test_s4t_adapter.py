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
