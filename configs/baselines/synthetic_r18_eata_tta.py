# EATA (without its Fisher regulariser) on the embedded target domains.
# Settings and results: docs/benchmarks.md ("Baselines' settings").
_base_ = [
    '../s4t/synthetic_r18_source.py',
    '../_base_/datasets/synthetic_world_targets.py',
    '../_base_/tta/methods.py',
]
custom_hooks = [
    dict(type='TestTimeAdaptHook', adapter=dict(_base_.eata),
         protocol=dict(_base_.paper_protocol)),
]
