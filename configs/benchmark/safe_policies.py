# Normalisation policies side by side on one source model (the tables
# safe_policies_demo.py and safe_policies_converged.py name it), statistics
# only unless named s4t, paper protocol, seeds 0-2:
# - bn_adapt: BN-adapt, every layer takes the batch's statistics;
# - gated6: the first safe policy (within 6 source spreads keep the
#   source statistics);
# - hybrid_ttn: Vianna et al., CoLLAs 2024 (the share of adapted channels
#   falls from all at the first layer to none at the last);
# - shift_response: ours, the rule fitted on the labelled source under
#   simulated shifts, all or nothing per batch (hard); _soft blends by its
#   probability;
# - s4t_shift_response: S4T (reference objective) on the statistics
#   shift_response chose: its steps run only on a batch the rule adapts,
#   normalised with the live blend (= the batch's statistics there).
# The benchmark adds the oracle row (per domain and seed the better of
# source-only and BN-adapt, chosen with labels). The choice among them,
# made on policy_validation_domains only, its rule and the results:
# docs/benchmarks.md ("Safe adaptation").
_base_ = ['./synthetic_methods.py']
seeds = [0, 1, 2]
sync_methods = []
methods = dict(
    _delete_=True,
    bn_adapt={{_base_.bn_adapt}},
    gated6={{_base_.bn_adapt_gated}},
    hybrid_ttn=dict(type='NormStatsAdapter', norm_policy='hybrid_ttn'),
    shift_response={{_base_.bn_adapt_safe}},
    shift_response_soft=dict(type='NormStatsAdapter',
                             norm_policy=dict(type='shift_response',
                                              hard=False)),
    s4t_shift_response={{_base_.s4t_safe}},
)
