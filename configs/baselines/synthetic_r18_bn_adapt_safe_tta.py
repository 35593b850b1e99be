# BN-adapt-safe: BN-adapt (configs/baselines/synthetic_r18_bn_adapt_tta.py)
# with the gated normalisation policy of S4T-safe
# (configs/s4t/synthetic_r18_s4t_safe_tta.py, ours): a layer takes the
# adaptation batch's statistics only where they lie outside the source's
# batch-to-batch spread (beyond 6 spreads), blended by how far. Needs a
# calibrated checkpoint.
_base_ = ['./synthetic_r18_bn_adapt_tta.py']
custom_hooks = [
    dict(
        type='TestTimeAdaptHook',
        adapter=dict(type='NormStatsAdapter',
                     norm_policy=dict(type='gated', threshold=6.0)),
        protocol=dict(type='paper', steps=40, num_batches=1, seed=0)),
]
