# The demo (bash tools/demo.sh): the 400-iteration source model of
# configs/s4t/synthetic_r18_source.py (trained into
# work_dirs/synthetic_r18_source/ unless a checkpoint is there) adapted to
# `demo_domains` (the appearance domains, corridor and hall) with BN-adapt,
# S4T and S4T-safe of configs/_base_/tta/methods.py under the paper
# protocol, seed 0: the rows of the shipped *_tta.py configs of those names.
# What it prints and costs: README, docs/get_started.md.
#
#   python tools/benchmark_methods.py configs/benchmark/demo.py [--seeds 0 1 2]
_base_ = ['./demo_model_methods.py']
domains_key = 'demo_domains'
methods = dict(
    _delete_=True,
    bn_adapt={{_base_.bn_adapt}},
    s4t={{_base_.s4t}},
    s4t_safe={{_base_.s4t_safe}},
)
