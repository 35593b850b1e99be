# The gated policy (the first safe policy) on every embedded benchmark
# domain, from the demo's source model (400 iterations, calibrated at
# training), seed 0: the methods, their gated versions (under their
# first names, *_safe; chosen on synthetic_safe_validation.py) and the
# field's stability baselines SAR and CoTTA, with each task's change
# against source-only (docs/benchmarks.md, "Issue 23: the gated policy"):
#
#   python tools/benchmark_methods.py configs/benchmark/synthetic_safe.py
_base_ = ['./demo_model_methods.py']
methods = dict(
    _delete_=True,
    bn_adapt={{_base_.bn_adapt}},
    tent={{_base_.tent}},
    s4t={{_base_.s4t}},
    bn_adapt_safe={{_base_.bn_adapt_gated}},
    tent_safe={{_base_.tent_gated}},
    s4t_safe={{_base_.s4t_gated}},
    sar={{_base_.sar}},
    cotta={{_base_.cotta}},
)
