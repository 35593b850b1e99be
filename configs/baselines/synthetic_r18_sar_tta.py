# SAR on the embedded target domains (the paper's settings, TENT's lr).
# Settings and results: docs/benchmarks.md ("Baselines' settings").
_base_ = [
    '../s4t/synthetic_r18_source.py',
    '../_base_/datasets/synthetic_world_targets.py',
    '../_base_/tta/methods.py',
]
custom_hooks = [
    dict(type='TestTimeAdaptHook', adapter=dict(_base_.sar),
         protocol=dict(_base_.paper_protocol)),
]
