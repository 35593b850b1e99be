# TENT-safe (ours): TENT under the shift-response normalisation policy of
# S4T-safe, stepping only on a batch the rule adapts; needs a checkpoint
# calibrated for it. Results: docs/benchmarks.md ("Safe adaptation").
_base_ = ['./synthetic_r18_tent_tta.py']
custom_hooks = [
    dict(type='TestTimeAdaptHook', adapter=dict(_base_.tent_safe),
         protocol=dict(_base_.paper_protocol)),
]
