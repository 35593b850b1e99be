"""The shift-response rule and CalibratedNormPolicy (ours): a hand-computed
shift profile, a rule fitted on shifts that re-estimation helps adapts
there and one fitted where it harms keeps the source statistics."""
import math
from collections import OrderedDict

import pytest
import torch

from s4t_mm.tta.norm_policies import CalibratedNormPolicy, build_norm_policy
from s4t_mm.tta.norm_policies.calibrated_norm_policy import \
    SHIFT_RESPONSE_KEY
from s4t_mm.tta.norm_policies.norm_statistics import measure_batch
from s4t_mm.tta.norm_policies.shift_response import (fit_shift_response,
                                                     layer_groups,
                                                     response_probability,
                                                     rule_features,
                                                     shift_profile)
from .test_gated_norm_policy import calibrated_model, source_batch


def unit_spread(channels):
    zeros, ones = torch.zeros(channels), torch.ones(channels)
    return dict(mean_center=zeros, mean_spread=ones, logvar_center=zeros,
                logvar_spread=ones)


def test_hand_computed_shift_profile():
    spreads = {'a.x': unit_spread(2), 'a.y': unit_spread(1),
               'b.x': unit_spread(2)}
    e = math.e
    stats = {'a.x': (torch.tensor([3.0, 0.0]), torch.tensor([e, 1.0])),
             'a.y': (torch.tensor([4.0]), torch.tensor([e ** -2])),
             'b.x': (torch.tensor([1.0, 1.0]), torch.tensor([1.0, 1.0]))}
    groups = layer_groups(['a.x', 'a.y', 'b.x'], depth=1)
    assert groups == OrderedDict(a=['a.x', 'a.y'], b=['b.x'])
    eps = dict.fromkeys(stats, 0.0)
    profile = shift_profile(spreads, stats, eps, groups)
    # group a: means 3, 0, 4 -> sqrt(25 / 3); log variances 1, 0, -2
    # -> sqrt(5 / 3); group b: means 1, 1 -> 1; log variances 0
    torch.testing.assert_close(profile, torch.tensor(
        [[math.sqrt(25 / 3), math.sqrt(5 / 3)], [1.0, 0.0]]))
    # spreads twice as wide (a batch four times the calibration's): half
    torch.testing.assert_close(
        shift_profile(spreads, stats, eps, groups, spread_scale=2.0),
        profile / 2, atol=1e-5, rtol=1e-5)
    trend, shift = rule_features(profile).tolist()
    assert trend == pytest.approx(-0.5 * math.log(25 / 3))
    assert shift == pytest.approx(0.5 * math.log(25 / 3))
    with pytest.raises(ValueError, match='>= 2 groups'):
        rule_features(profile[:1])


def profiles(trend, shift, n, noise=0.05):
    """``n`` two-group profiles whose z_mean falls by ``exp(trend)`` from
    the first group to the last, the largest being ``exp(shift)``."""
    g = torch.Generator().manual_seed(0)
    first = math.exp(shift) * torch.ones(n)
    last = first * math.exp(trend)
    z = torch.stack([first, last], 1) * (
        1 + noise * torch.randn(n, 2, generator=g))
    return torch.stack([z, torch.ones(n, 2)], -1)


def test_fitted_rule_adapts_where_it_helped():
    # appearance-like shifts (fading with depth) helped, scene-like ones
    # (growing with depth) hurt
    fading, growing = profiles(-1.0, 1.5, 20), profiles(0.3, 1.5, 20)
    gains = torch.cat([torch.full((20, ), 10.0), torch.full((20, ), -10.0)])
    rule = fit_shift_response(torch.cat([fading, growing]), gains)
    assert rule['features'] == ['depth_trend', 'log_shift']
    assert rule['num_shifts'] == 40 and rule['helped'] == 0.5
    assert float(rule['weight'][0]) < 0  # fading with depth: re-estimate
    assert float(response_probability(rule, fading[0])) > 0.9
    assert float(response_probability(rule, growing[0])) < 0.1
    # one kind of answer only: the rule gives it everywhere
    always = fit_shift_response(fading, torch.full((20, ), 1.0))
    never = fit_shift_response(fading, torch.full((20, ), -1.0))
    assert float(response_probability(always, growing[0])) > 0.99
    assert float(response_probability(never, fading[0])) < 0.01


def rule_for(model, calibration, batch, helped):
    """A rule fitted on shifts like ``batch``'s (its own profile, and one
    the other way round), labelled as ``helped`` says."""
    policy = CalibratedNormPolicy(calibration=dict(
        calibration, **{SHIFT_RESPONSE_KEY: dict(group_depth=2,
                                                 groups=['bn1', 'bn2'])}))
    policy.bind(model)
    stats = measure_batch(model, batch)
    profile = shift_profile(policy._spreads, stats, policy._eps,
                            policy._groups)
    other = profile.flip(0)  # its shift grows where this one fades
    gains = torch.tensor([10.0 if helped else -10.0] * 10 +
                         [-10.0 if helped else 10.0] * 10)
    noise = 1 + 0.02 * torch.randn(20, 2, 2,
                                   generator=torch.Generator().manual_seed(3))
    rule = fit_shift_response(
        torch.cat([profile.expand(10, 2, 2), other.expand(10, 2, 2)]) *
        noise, gains)
    return dict(rule, group_depth=2, groups=['bn1', 'bn2'])


@pytest.mark.parametrize('helped', [True, False])
def test_policy_follows_the_rule_on_its_batch(helped):
    model, calibration, g = calibrated_model()
    batch = source_batch(g) * 3 + 2  # far outside, more in the first layer
    source = [b.clone() for b in (model.bn1.running_mean,
                                  model.bn1.running_var)]
    calibration = dict(calibration, **{
        SHIFT_RESPONSE_KEY: rule_for(model, calibration, batch, helped)})
    policy = build_norm_policy(dict(type='shift_response', hard=True,
                                    calibration=calibration))
    policy.bind(model)
    policy.set_mode(model)
    policy.before_steps(model, batch)
    expected = 1.0 if helped else 0.0
    assert policy.last_weights == {'bn1': expected, 'bn2': expected}
    assert set(policy.last_scores) == {'bn1', 'bn2'}
    assert min(policy.last_scores.values()) > 3  # z in the source pass
    if helped:  # the batch's own statistics, layer after layer
        mean = model.conv1(batch).detach().mean((0, 2, 3))
        torch.testing.assert_close(model.bn1.running_mean, mean)
    else:  # the source's
        assert torch.equal(model.bn1.running_mean, source[0])
        assert torch.equal(model.bn1.running_var, source[1])


def test_soft_policy_blends_by_the_probability():
    model, calibration, g = calibrated_model()
    batch = source_batch(g) * 3 + 2
    rule = dict(features=['depth_trend', 'log_shift'],
                weight=torch.zeros(2), bias=torch.tensor(math.log(7 / 3)),
                group_depth=2, groups=['bn1', 'bn2'])  # p = 0.7
    policy = CalibratedNormPolicy(hard=False, calibration=dict(
        calibration, **{SHIFT_RESPONSE_KEY: rule}))
    policy.bind(model)
    source_mean = model.bn1.running_mean.clone()
    policy.set_mode(model)
    policy.before_steps(model, batch)
    assert policy.last_weights == pytest.approx({'bn1': 0.7, 'bn2': 0.7})
    mean = model.conv1(batch).detach().mean((0, 2, 3))
    torch.testing.assert_close(model.bn1.running_mean,
                               torch.lerp(source_mean, mean, 0.7))


def test_needs_the_rule():
    model, calibration, _ = calibrated_model()
    with pytest.raises(KeyError, match='calibrate_norm_stats'):
        CalibratedNormPolicy(calibration=calibration).bind(model)
    with pytest.raises(KeyError, match='shift-response rule'):
        CalibratedNormPolicy().after_load_checkpoint({'state_dict': {}})
    calibration = dict(calibration, **{SHIFT_RESPONSE_KEY: dict(
        group_depth=2, groups=['backbone.stem', 'backbone.layer1'])})
    with pytest.raises(ValueError, match='fitted on the layer groups'):
        CalibratedNormPolicy(calibration=calibration).bind(model)
