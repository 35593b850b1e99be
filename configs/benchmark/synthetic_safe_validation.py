# Choosing the gated normalisation policy (the first safe policy) on the
# validation domains only (`policy_validation_domains`: val_overcast,
# narrow_fov_high alone and with val_overcast, three corruptions no
# reported domain uses, and the source style's validation split), from
# the demo's source model (the 400-iteration one, calibrated at training),
# seed 0:
#
#   python tools/benchmark_methods.py \
#       configs/benchmark/synthetic_safe_validation.py \
#       --work-dir work_dirs/safe_validation
#
# The rule, fixed before the reported domains were run, the threshold sweep
# and the results: docs/benchmarks.md ("Issue 23: the gated policy").
_base_ = ['./demo_model_methods.py']
domains_key = 'policy_validation_domains'


def _gated(threshold, live_steps=True):
    return dict(type='gated', threshold=threshold, live_steps=live_steps)


# TENT and S4T of configs/_base_/tta/methods.py, each row its own norm
# policy; they step only on a batch some layer finds shifted (mean target
# weight > 0)
_tent = dict({k: v for k, v in _base_.tent.items() if k != 'norm_policy'},
             min_target_weight=0.0)
_s4t = dict({k: v for k, v in _base_.s4t.items() if k != 'norm_policy'},
            min_target_weight=0.0)
methods = dict(
    _delete_=True,
    bn_adapt={{_base_.bn_adapt}},
    tent={{_base_.tent}},
    s4t={{_base_.s4t}},
    bn_adapt_prior16=dict(type='NormStatsAdapter',
                          norm_policy=dict(type='prior', prior_strength=16)),
    # the gated policy at thresholds 3 and 6 (the statistics-only sweep's
    # range), its gradient steps normalising with the blend of the source
    # statistics and each step's own (live_steps) or with the frozen blend
    bn_adapt_gated3=dict(type='NormStatsAdapter', norm_policy=_gated(3.0)),
    bn_adapt_gated6=dict(type='NormStatsAdapter', norm_policy=_gated(6.0)),
    tent_gated3_frozen=dict(_tent, norm_policy=_gated(3.0, False)),
    tent_gated3_live=dict(_tent, norm_policy=_gated(3.0)),
    tent_gated6_live=dict(_tent, norm_policy=_gated(6.0)),
    s4t_gated3_frozen=dict(_s4t, norm_policy=_gated(3.0, False)),
    s4t_gated3_live=dict(_s4t, norm_policy=_gated(3.0)),
    s4t_gated6_live=dict(_s4t, norm_policy=_gated(6.0)),
    # the chosen ones, methods.py's *_gated under their first names
    bn_adapt_safe={{_base_.bn_adapt_gated}},
    tent_safe={{_base_.tent_gated}},
    s4t_safe={{_base_.s4t_gated}},
)
