# S4T, Taskonomy -> NYUD-v2, ResNet-50. With Taskonomy as the source the
# reference combines the per-task losses by learned uncertainty weighting,
# in source training and (started fresh) in adaptation.
_base_ = [
    '../_base_/models/s4t_r50.py',
    '../_base_/datasets/taskonomy_nyud.py',
    '../_base_/schedules/schedule_s4t_60k.py',
    '../_base_/default_runtime.py',
]
model = dict(loss_combiner=dict(_delete_=True,
                                type='UncertaintyWeightCombiner'))
custom_hooks = [
    dict(
        type='TestTimeAdaptHook',
        adapter=dict(
            type='S4TAdapter',
            weighting='uncertainty',
            optimizer=dict(type='SGD', lr=2e-5, weight_decay=1e-6)),
        protocol=dict(type='paper', steps=40, num_batches=1, seed=0)),
]
