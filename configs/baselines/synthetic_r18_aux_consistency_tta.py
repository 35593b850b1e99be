# Conventional multi-task TTT on the embedded target domains: every task's
# auxiliary head pulled toward its main head, no relation predictor (S4T
# without its relation model). Same source model, protocol and step budget
# as configs/s4t/synthetic_r18_s4t_tta.py. The learning rate was chosen on
# the validation target 'val_overcast' (64 images, seed 0) from
# {1e-6, 1e-5, 1e-4, 1e-3, 1e-2}: delta_m +4.7, +4.6, +2.2, -19.9, -107 %.
# Any larger step hurts, so this is nearly BN-adapt (the batch statistics of
# the 40 train-mode passes).
_base_ = [
    '../s4t/synthetic_r18_source.py',
    '../_base_/datasets/synthetic_world_targets.py',
]
custom_hooks = [
    dict(
        type='TestTimeAdaptHook',
        adapter=dict(
            type='AuxConsistencyAdapter',
            loss_weight=0.01,
            norm_policy='batch_stats',
            optimizer=dict(type='SGD', lr=1e-6, weight_decay=1e-6)),
        protocol=dict(type='paper', steps=40, num_batches=1, seed=0)),
]
