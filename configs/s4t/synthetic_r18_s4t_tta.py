# S4T test-time adaptation of the embedded source model to every embedded
# target domain. Protocol: the paper's (reset, 40 steps on one seeded batch
# of 8 unlabeled target images, then evaluate the whole target test split).
# The learning rate was chosen on the validation target 'val_overcast' only
# (64 images, seed 0; delta_m for lr 1e-6 / 1e-5 / 1e-4 / 1e-3 / 1e-2:
# +4.75 / +5.21 / +4.20 / -7.0 / -11.5 %), never on a reported domain.
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
