# SAR on the embedded target domains: entropy of the reliable segmentation
# pixels (E < 0.4 ln C) at the sharpness-aware point (rho = 0.05), only the
# affine parameters of the normalisation layers below the backbone's last
# stage move (the paper leaves ResNet's layer4 out), and the source state
# is restored when the loss average falls below e_m = 0.2 (the paper's
# values, Niu et al., ICLR 2023). Same source model, protocol and step
# budget as configs/s4t/synthetic_r18_s4t_tta.py. The learning rate is
# TENT's, chosen on 'val_overcast' for the same parameters and objective
# family (configs/baselines/synthetic_r18_tent_tta.py); SAR's own values
# were not tuned. stats['recoveries'] counts the resets: e_m is an absolute
# entropy (nats) set on ImageNet's 1000 classes, so check it on validation
# before reading a row where every batch recovered.
_base_ = [
    '../s4t/synthetic_r18_source.py',
    '../_base_/datasets/synthetic_world_targets.py',
]
custom_hooks = [
    dict(
        type='TestTimeAdaptHook',
        adapter=dict(
            type='SarAdapter',
            task='semseg',
            entropy_margin=0.4,
            rho=0.05,
            reset_threshold=0.2,
            frozen_modules=['backbone.layer4'],
            norm_policy='batch_stats',
            optimizer=dict(type='SGD', lr=1e-2, momentum=0.9)),
        protocol=dict(type='paper', steps=40, num_batches=1, seed=0)),
]
