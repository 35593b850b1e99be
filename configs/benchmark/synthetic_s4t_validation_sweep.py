# The choice of S4T's settings for the benchmark, made on the validation
# domains only (val_overcast and narrow_fov_high+val_overcast, seed 0):
#
#   python tools/benchmark_methods.py \
#       configs/benchmark/synthetic_s4t_validation_sweep.py
#
# Faithful S4T over learning rates, with BatchNorm batch statistics and
# with source statistics, then each of our options (S4TAdapter docstring)
# alone and combined. docs/benchmarks.md has the table this produces.
_base_ = ['./synthetic_methods.py']
domains_key = 'benchmark_validation_domains'
seeds = [0]
sync_methods = []
# S4T as configs/_base_/tta/methods.py defines it, the optimizer swept here
s4t_base = {k: v for k, v in _base_.s4t.items() if k != 'optimizer'}
ours_base = dict(s4t_base, compare='activated', task_balance='initial',
                 adapt_modules=['backbone', 'neck'])
sgd = dict(type='SGD', weight_decay=1e-6)
methods = {
    '_delete_': True,
    'bn_adapt': {{_base_.bn_adapt}},
    **{f's4t_lr{lr:.0e}': dict(s4t_base, optimizer=dict(sgd, lr=lr))
       for lr in (1e-6, 1e-5, 1e-4, 1e-3)},
    **{f's4t_grad_only_lr{lr:.0e}': dict(
        s4t_base, norm_policy='source_stats', optimizer=dict(sgd, lr=lr))
       for lr in (1e-5, 1e-4, 1e-3)},
    **{f's4t_activated_lr{lr:.0e}': dict(s4t_base, compare='activated',
                                         optimizer=dict(sgd, lr=lr))
       for lr in (1e-4, 1e-3)},
    **{f's4t_balanced_lr{lr:.0e}': dict(s4t_base, task_balance='initial',
                                        optimizer=dict(sgd, lr=lr))
       for lr in (1e-4, 1e-3)},
    's4t_frozen_relation_lr1e-03': dict(
        s4t_base, adapt_modules=['backbone', 'neck'],
        optimizer=dict(sgd, lr=1e-3)),
    's4t_norm_only_lr1e-02': dict(
        s4t_base, parameters='norm', optimizer=dict(sgd, lr=1e-2)),
    's4t_anchor_lr1e-03': dict(
        s4t_base, anchor_weight=1.0, optimizer=dict(sgd, lr=1e-3)),
    **{f's4t_ours_lr{lr:.0e}': dict(ours_base, optimizer=dict(sgd, lr=lr))
       for lr in (1e-4, 1e-3, 1e-2, 1e-1)},
    **{f's4t_ours_consistency_lr{lr:.0e}': dict(
        ours_base, select_state='best_consistency',
        optimizer=dict(sgd, lr=lr))
       for lr in (1e-3, 1e-1)},
}
