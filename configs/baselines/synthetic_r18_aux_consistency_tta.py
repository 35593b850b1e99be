# Conventional multi-task TTT on the embedded target domains: every task's
# auxiliary head pulled toward its main head (S4T without its relation
# predictor), from the source model of configs/s4t/synthetic_r18_s4t_tta.py.
# Settings and results: docs/benchmarks.md ("Baselines' settings").
_base_ = [
    '../s4t/synthetic_r18_source.py',
    '../_base_/datasets/synthetic_world_targets.py',
    '../_base_/tta/methods.py',
]
custom_hooks = [
    dict(type='TestTimeAdaptHook', adapter=dict(_base_.aux_consistency),
         protocol=dict(_base_.paper_protocol)),
]
