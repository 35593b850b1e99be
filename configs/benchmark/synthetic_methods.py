# The embedded-world benchmark: every method on every embedded target
# domain (appearance and structural shifts, `benchmark_domains`), 3 seeds,
# from the converged source model
# (configs/s4t/synthetic_r18_source_converged.py), the paper protocol:
#
#   python tools/benchmark_methods.py configs/benchmark/synthetic_methods.py
#
# The methods are configs/_base_/tta/methods.py's. Every gradient method
# also runs with the source statistics (*_grad_only: the gradient's own
# effect), so "gain beyond BN-adapt" reads off each pair; S4T against
# aux-consistency isolates the relation predictor. Results:
# docs/benchmarks.md ("The benchmark: every method on 15 target domains").
_base_ = [
    '../s4t/synthetic_r18_source.py',
    '../_base_/datasets/synthetic_world_targets.py',
    '../_base_/tta/methods.py',
]
source_work_dir = 'work_dirs/synthetic_r18_source_converged'
train_config = 'configs/s4t/synthetic_r18_source_converged.py'
domains_key = 'benchmark_domains'
validation_domains_key = 'benchmark_validation_domains'
seeds = [0, 1, 2]
protocol = {{_base_.paper_protocol}}
# methods whose per-task curves (score every 10 of 60 steps, seed 0) go into
# the synchronisation report
sync_methods = ['tent', 's4t', 's4t_ours']
sync_steps = 60
sync_interval = 10
methods = dict(
    bn_adapt={{_base_.bn_adapt}},
    tent={{_base_.tent}},
    tent_grad_only=dict(_base_.tent, norm_policy='source_stats'),
    aux_consistency={{_base_.aux_consistency}},
    aux_consistency_grad_only=dict(_base_.aux_consistency,
                                   norm_policy='source_stats'),
    s4t={{_base_.s4t}},
    s4t_grad_only=dict(_base_.s4t, norm_policy='source_stats'),
    s4t_ours={{_base_.s4t_ours}},
    s4t_ours_grad_only=dict(_base_.s4t_ours, norm_policy='source_stats'),
    s4t_reference_pairing={{_base_.s4t_reference_pairing}},
    bn_adapt_safe={{_base_.bn_adapt_safe}},
    tent_safe={{_base_.tent_safe}},
    s4t_safe={{_base_.s4t_safe}},
    bn_adapt_gated={{_base_.bn_adapt_gated}},
    tent_gated={{_base_.tent_gated}},
    s4t_gated={{_base_.s4t_gated}},
    sar={{_base_.sar}},
    cotta={{_base_.cotta}},
)
