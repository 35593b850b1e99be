# S4T with our option compare='activated': the reconstruction is pulled
# toward the activated predictions, lr 1e-4; otherwise as
# synthetic_r18_s4t_tta.py. Results: docs/benchmarks.md.
_base_ = ['./synthetic_r18_s4t_tta.py']
custom_hooks = [
    dict(type='TestTimeAdaptHook', adapter=dict(_base_.s4t_ours),
         protocol=dict(_base_.paper_protocol)),
]
