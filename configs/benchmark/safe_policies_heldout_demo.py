# The held-out check of the shift-response policy: the domains
# of synthetic_safe_heldout.py (six corruptions no benchmark or validation
# domain uses, alone and on three source-style scene shifts), never used to
# choose anything; the statistics of BN-adapt, the gated policy and the
# shift-response policy, and S4T-safe, seed 0. Results: docs/benchmarks.md.
#
#   python tools/benchmark_methods.py \
#       configs/benchmark/safe_policies_heldout_demo.py
_base_ = ['./synthetic_safe_heldout.py']
calibrated_checkpoint = (
    'work_dirs/synthetic_r18_source_calibrated/iter_400.pth')
methods = dict(
    _delete_=True,
    bn_adapt={{_base_.bn_adapt}},
    gated6={{_base_.bn_adapt_gated}},
    shift_response={{_base_.bn_adapt_safe}},
    s4t_safe={{_base_.s4t_safe}},
)
