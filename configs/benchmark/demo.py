# The demo (bash tools/demo.sh): the small S4T source model of
# configs/s4t/synthetic_r18_source.py (400 iterations; trained into
# work_dirs/synthetic_r18_source/ unless a checkpoint is there) adapted to
# every embedded appearance domain and two scene shifts (`demo_domains`:
# `target_domains`, corridor and hall) with BN-adapt, S4T as the
# reference runs it and S4T-safe (ours: S4T under the shift-response
# normalisation policy, fitted on the labelled source at the end of its
# training, which keeps the source statistics on a batch whose shift does
# not fade with depth; docs/benchmarks.md), seed 0:
#
#   python tools/benchmark_methods.py configs/benchmark/demo.py [--seeds 0 1 2]
#
# The methods are the benchmark's (synthetic_methods.py), the same settings
# as configs/baselines/synthetic_r18_bn_adapt_tta.py,
# configs/s4t/synthetic_r18_s4t_tta.py and
# configs/s4t/synthetic_r18_s4t_safe_tta.py, with their protocol (paper, 40
# steps on one seeded batch of 8), so the printed comparison table is the
# one `tools/compare_methods.py` gives for those three configs.
_base_ = ['./demo_model_methods.py']
domains_key = 'demo_domains'
methods = dict(
    _delete_=True,
    bn_adapt={{_base_.bn_adapt}},
    s4t={{_base_.s4t}},
    s4t_safe={{_base_.s4t_safe}},
)
