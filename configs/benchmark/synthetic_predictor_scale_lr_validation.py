# The choice of S4T's learning rate for synthetic_predictor_scale.py, on
# the validation domains only (policy_validation_domains:
# val_overcast, narrow_fov_high alone and with val_overcast, three
# corruptions no reported domain uses and the source style's validation
# split), seed 0, the converged model with the small relation predictor:
#
#   python tools/benchmark_methods.py \
#       configs/benchmark/synthetic_predictor_scale_lr_validation.py \
#       --work-dir work_dirs/predictor_scale_r18_lr
#
# (synthetic_predictor_scale_paper_lr_validation.py: the same at the
# reference's predictor scale). Faithful S4T (configs/_base_/tta/methods.py)
# over the learning rates; the rule, fixed before any reported domain was
# run, and its outcome: docs/benchmarks.md ("S4T at the paper's predictor
# scale").
_base_ = ['./synthetic_predictor_scale.py']
domains_key = 'policy_validation_domains'
seeds = [0]
sync_methods = []
s4t_learning_rates = [1e-6, 1e-5, 2e-5, 1e-4, 1e-3]
methods = {
    '_delete_': True,
    'bn_adapt': {{_base_.bn_adapt}},
    **{f's4t_lr{lr:.0e}': dict(
        _base_.s4t, optimizer=dict(_base_.s4t.optimizer, lr=lr))
       for lr in s4t_learning_rates},
}
