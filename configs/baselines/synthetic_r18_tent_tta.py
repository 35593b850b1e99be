# TENT on the embedded target domains: entropy of the semantic segmentation
# prediction, only the affine parameters of the normalisation layers move.
# Same source model, protocol and step budget as
# configs/s4t/synthetic_r18_s4t_tta.py. The learning rate was chosen on the
# validation target 'val_overcast' (64 images, seed 0) from
# {1e-4, 1e-3, 1e-2, 1e-1}: delta_m +4.8, +6.1, +14.9, -0.1 %.
_base_ = [
    '../s4t/synthetic_r18_source.py',
    '../_base_/datasets/synthetic_world_targets.py',
]
custom_hooks = [
    dict(
        type='TestTimeAdaptHook',
        adapter=dict(
            type='TentAdapter',
            task='semseg',
            norm_policy='batch_stats',
            optimizer=dict(type='SGD', lr=1e-2, momentum=0.9)),
        protocol=dict(type='paper', steps=40, num_batches=1, seed=0)),
]
