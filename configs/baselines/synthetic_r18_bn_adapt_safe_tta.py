# BN-adapt-safe (ours): BN-adapt under the shift-response normalisation
# policy of S4T-safe; needs a checkpoint calibrated for it. Results:
# docs/benchmarks.md ("Safe adaptation").
_base_ = ['./synthetic_r18_bn_adapt_tta.py']
custom_hooks = [
    dict(type='TestTimeAdaptHook', adapter=dict(_base_.bn_adapt_safe),
         protocol=dict(_base_.paper_protocol)),
]
