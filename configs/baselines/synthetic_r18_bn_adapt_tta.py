# BN-adapt on the embedded target domains: the S4T source model's
# BatchNorm statistics re-estimated on the adaptation batch, no gradient.
# Same protocol and step budget as configs/s4t/synthetic_r18_s4t_tta.py
# (paper protocol, 40 steps = 40 forward passes on one seeded batch of 8).
# The BatchNorm momentum was chosen on the validation target 'val_overcast'
# (64 images, seed 0) from {0.01, 0.1, 1.0} (delta_m +4.4, +4.7, +3.7 %).
_base_ = [
    '../s4t/synthetic_r18_source.py',
    '../_base_/datasets/synthetic_world_targets.py',
]
custom_hooks = [
    dict(
        type='TestTimeAdaptHook',
        adapter=dict(type='NormStatsAdapter', momentum=0.1),
        protocol=dict(type='paper', steps=40, num_batches=1, seed=0)),
]
