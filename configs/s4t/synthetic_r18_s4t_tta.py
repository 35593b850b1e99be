# S4T test-time adaptation of the embedded source model to every embedded
# target domain, as the reference runs it, with the paper's protocol.
# Results: docs/benchmarks.md ("Choosing S4T's settings on the validation
# domains" and the benchmark tables).
_base_ = [
    './synthetic_r18_source.py',
    '../_base_/datasets/synthetic_world_targets.py',
    '../_base_/tta/methods.py',
]
custom_hooks = [
    dict(type='TestTimeAdaptHook', adapter=dict(_base_.s4t),
         protocol=dict(_base_.paper_protocol)),
]
