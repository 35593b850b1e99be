# TENT-safe: TENT (configs/baselines/synthetic_r18_tent_tta.py, lr 1e-2)
# with the gated normalisation policy of S4T-safe
# (configs/s4t/synthetic_r18_s4t_safe_tta.py, ours): normalisation
# statistics re-estimated only where the batch lies beyond 6 of the
# source's batch-to-batch spreads, entropy steps only on a batch whose
# layers take mostly their own statistics, normalised with the live blend.
# Needs a calibrated checkpoint.
_base_ = ['./synthetic_r18_tent_tta.py']
custom_hooks = [
    dict(
        type='TestTimeAdaptHook',
        adapter=dict(
            type='TentAdapter',
            task='semseg',
            norm_policy=dict(type='gated', threshold=6.0, live_steps=True),
            min_target_weight=0.5,
            optimizer=dict(type='SGD', lr=1e-2, momentum=0.9)),
        protocol=dict(type='paper', steps=40, num_batches=1, seed=0)),
]
