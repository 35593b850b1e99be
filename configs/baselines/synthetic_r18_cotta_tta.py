# CoTTA on the embedded target domains, every task: the student pulled
# toward a mean teacher with stochastic restore (the paper's settings, 8
# augmented copies instead of 32). Settings and results: docs/benchmarks.md
# ("Baselines' settings").
_base_ = [
    '../s4t/synthetic_r18_source.py',
    '../_base_/datasets/synthetic_world_targets.py',
    '../_base_/tta/methods.py',
]
custom_hooks = [
    dict(type='TestTimeAdaptHook', adapter=dict(_base_.cotta),
         protocol=dict(_base_.paper_protocol)),
]
