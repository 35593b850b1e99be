# TTT-MAE on the embedded target domains: the encoder of the TTT-MAE source
# model (synthetic_r18_tttmae_source.py) adapted by masked image
# reconstruction. Settings and results: docs/benchmarks.md ("Baselines'
# settings").
_base_ = [
    './synthetic_r18_tttmae_source.py',
    '../_base_/datasets/synthetic_world_targets.py',
    '../_base_/tta/methods.py',
]
custom_hooks = [
    dict(type='TestTimeAdaptHook', adapter=dict(_base_.tttmae),
         protocol=dict(_base_.paper_protocol)),
]
