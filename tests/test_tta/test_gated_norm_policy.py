"""GatedNormPolicy (ours): adapt only outside the source's own spread."""
import pytest
import torch

from s4t_mm.tta.norm_policies import GatedNormPolicy, build_norm_policy
from s4t_mm.tta.norm_policies.norm_statistics import (calibrate_spread,
                                                      measure_batch)
from .test_prior_norm_policy import TwoBN


def source_batch(generator):
    return torch.randn(8, 3, 6, 6, generator=generator)


def calibrated_model():
    """TwoBN whose running statistics are those of the source distribution
    (standard normal images), with its calibration."""
    model = TwoBN()
    g = torch.Generator().manual_seed(1)
    model.train()
    for layer in (model.bn1, model.bn2):
        layer.momentum = None  # cumulative average
    with torch.no_grad():
        for _ in range(50):
            model(source_batch(g))
    model.eval()
    calibration = calibrate_spread(model, [source_batch(g)
                                           for _ in range(20)])
    return model, calibration, g


def test_source_batch_keeps_the_source_statistics():
    model, calibration, g = calibrated_model()
    source = [b.clone() for b in (model.bn1.running_mean,
                                  model.bn1.running_var,
                                  model.bn2.running_mean)]
    policy = build_norm_policy(dict(type='gated', calibration=calibration))
    policy.bind(model)
    policy.set_mode(model)
    policy.before_steps(model, source_batch(g))
    assert max(policy.last_scores.values()) < 3.0  # about one spread
    assert policy.last_weights == {'bn1': 0.0, 'bn2': 0.0}
    for before, after in zip(source, (model.bn1.running_mean,
                                      model.bn1.running_var,
                                      model.bn2.running_mean)):
        assert torch.equal(before, after)


def test_shifted_batch_adapts():
    model, calibration, g = calibrated_model()
    policy = GatedNormPolicy(calibration=calibration)
    policy.bind(model)
    policy.set_mode(model)
    shifted = source_batch(g) * 3 + 2  # contrast and brightness
    policy.before_steps(model, shifted)
    z = policy.last_scores['bn1']
    assert z > 10
    a = 1 - (3.0 / z) ** 2
    assert policy.last_weights['bn1'] == pytest.approx(a, rel=1e-5)
    h = model.conv1(shifted).detach()
    mean = h.mean((0, 2, 3))
    source_mean = calibration['layers']['bn1']['mean_center']
    # the running mean now lies a of the way from the source to the batch
    # (the source statistics are the layer's running ones, close to the
    # calibration's centre)
    torch.testing.assert_close(model.bn1.running_mean,
                               source_mean + a * (mean - source_mean),
                               atol=0.05, rtol=0.0)


def test_each_layer_tests_its_own_statistics():
    model, calibration, _ = calibrated_model()
    policy = GatedNormPolicy(calibration=calibration, threshold=3.0)
    policy.bind(model)
    layer1 = calibration['layers']['bn1']
    layer2 = calibration['layers']['bn2']
    # the first layer sees a source-like batch, the second a far one
    a1, z1 = policy.decide('bn1', model.bn1, layer1['mean_center'],
                           layer1['logvar_center'].exp())
    shifted = layer2['mean_center'] + 100.0
    a2, z2 = policy.decide('bn2', model.bn2, shifted,
                           layer2['logvar_center'].exp())
    assert float(a1) == 0.0 and float(z1) < 1e-3
    assert float(a2) == pytest.approx(1 - (3.0 / float(z2)) ** 2)
    assert float(a2) > 0.99
    # deciding has no side effect: nothing is reported before a batch
    assert policy.report().weights == {} and policy.report().scores == {}
    assert float(policy.target_weight('bn2', model.bn2, shifted,
                                      layer2['logvar_center'].exp())) == \
        float(a2)


def test_spread_is_the_source_batch_to_batch_deviation():
    model, _, _ = calibrated_model()
    g = torch.Generator().manual_seed(5)
    batches = [source_batch(g) for _ in range(4)]
    calibration = calibrate_spread(model, batches)
    means = torch.stack([measure_batch(model, b)['bn1'][0] for b in batches])
    torch.testing.assert_close(calibration['layers']['bn1']['mean_spread'],
                               means.std(0))
    assert calibration['batch_size'] == 8
    assert calibration['num_batches'] == 4


def test_needs_a_calibration():
    model, _, _ = calibrated_model()
    with pytest.raises(ValueError, match='has no calibration'):
        GatedNormPolicy().bind(model)
    with pytest.raises(KeyError, match='calibrate_norm_stats'):
        GatedNormPolicy().after_load_checkpoint({'state_dict': {}})
    with pytest.raises(ValueError, match='threshold must be > 0'):
        GatedNormPolicy(threshold=0)


def test_gradient_steps_only_on_a_shifted_batch():
    from s4t_mm.tta.adapters import TentAdapter
    model, calibration, g = calibrated_model()
    adapter = TentAdapter(norm_policy=dict(type='gated',
                                           calibration=calibration),
                          min_target_weight=0.0,
                          optimizer=dict(type='SGD', lr=0.5))
    adapter.bind(model)
    weight = model.bn1.weight.detach().clone()
    adapter.adapt(source_batch(g), steps=3)
    assert adapter.stats['steps'] == 0
    assert adapter.stats['steps_not_run'] == 3
    assert torch.equal(model.bn1.weight, weight)
    adapter.adapt(source_batch(g) * 3 + 2, steps=3)
    assert adapter.stats['steps'] == 3
    assert not torch.equal(model.bn1.weight, weight)
    # without the option every batch is stepped on
    model, calibration, g = calibrated_model()
    adapter = TentAdapter(norm_policy=dict(type='gated',
                                           calibration=calibration),
                          optimizer=dict(type='SGD', lr=0.5))
    adapter.bind(model)
    adapter.adapt(source_batch(g), steps=3)
    assert adapter.stats['steps'] == 3


def test_min_target_weight_needs_a_mostly_shifted_batch():
    from s4t_mm.tta.adapters import TentAdapter

    def measured(scale, offset, min_target_weight=0.4):
        model, calibration, g = calibrated_model()
        adapter = TentAdapter(
            norm_policy=dict(type='gated', calibration=calibration,
                             threshold=3.0),
            min_target_weight=min_target_weight,
            optimizer=dict(type='SGD', lr=0.5))
        adapter.bind(model)
        adapter.adapt(source_batch(g) * scale + offset, steps=2)
        weights = adapter.norm_policy.last_weights
        return adapter, sum(weights.values()) / len(weights)

    # the first layer far outside its spread (the second, behind it, not)
    adapter, mean_weight = measured(3.0, 2.0)
    assert mean_weight > 0.4 and adapter.stats['steps'] == 2
    assert adapter.norm_policy.report().mean_weight == \
        pytest.approx(mean_weight)
    # a weaker shift: the first layer adapts, too little for the steps
    adapter, mean_weight = measured(1.2, 0.2)
    assert 0 < mean_weight <= 0.4 and adapter.stats['steps'] == 0
    assert adapter.stats['steps_not_run'] == 2
    adapter, _ = measured(1.2, 0.2, min_target_weight=0.0)
    assert adapter.stats['steps'] == 2
    with pytest.raises(ValueError, match=r'min_target_weight must lie in'):
        TentAdapter(norm_policy=dict(type='gated'), min_target_weight=1.0)
    with pytest.raises(ValueError, match=r"'batch_stats' reports none"):
        TentAdapter(min_target_weight=0.5)
