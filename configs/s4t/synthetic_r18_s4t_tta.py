# S4T test-time adaptation of the embedded source model to every embedded
# target domain. Protocol: the paper's (reset, 40 steps on one seeded batch
# of 8 unlabeled target images, then evaluate the whole target test split).
# The learning rate was chosen on the validation target 'val_overcast' only
# (64 images, seed 0; delta_m for lr 1e-6 / 1e-5 / 1e-4 / 1e-3 / 1e-2:
# +4.75 / +5.21 / +4.20 / -7.0 / -11.5 %, edge/l1 then in delta_m), never
# on a reported domain.
# Re-checked for the converged benchmark model on both validation domains
# (benchmark_validation_domains): lr 1e-6 / 1e-5 / 1e-4 / 1e-3 gave
# +22.68 / +23.27 / +22.11 / +4.66 % against +22.61 % for BN-adapt, so
# 1e-5 stays; what S4T adds beyond BatchNorm statistics is within noise
# (docs/benchmarks.md).
_base_ = [
    './synthetic_r18_source.py',
    '../_base_/datasets/synthetic_world_targets.py',
]
custom_hooks = [
    dict(
        type='TestTimeAdaptHook',
        adapter=dict(
            type='S4TAdapter',
            weighting='squared_task_weights',
            loss_weight=0.01,
            norm_policy='batch_stats',
            optimizer=dict(type='SGD', lr=1e-5, weight_decay=1e-6)),
        protocol=dict(type='paper', steps=40, num_batches=1, seed=0)),
]
