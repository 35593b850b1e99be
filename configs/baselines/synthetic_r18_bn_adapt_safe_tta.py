# BN-adapt-safe: BN-adapt (configs/baselines/synthetic_r18_bn_adapt_tta.py)
# under the shift-response normalisation policy of S4T-safe
# (configs/s4t/synthetic_r18_s4t_safe_tta.py, ours): every BatchNorm layer
# takes the adaptation batch's statistics where the rule fitted on the
# labelled source expects that to help, the source's elsewhere. Needs a
# checkpoint calibrated for it; numbers in docs/benchmarks.md.
_base_ = ['./synthetic_r18_bn_adapt_tta.py']
custom_hooks = [
    dict(
        type='TestTimeAdaptHook',
        adapter=dict(type='NormStatsAdapter',
                     norm_policy=dict(type='shift_response', hard=True)),
        protocol=dict(type='paper', steps=40, num_batches=1, seed=0)),
]
