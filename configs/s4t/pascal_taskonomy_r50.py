# S4T, PASCAL-Context -> Taskonomy, ResNet-50: semseg (6 shared classes),
# normals, edges. Adaptation objective: squared task weights.
_base_ = [
    '../_base_/models/s4t_r50.py',
    '../_base_/datasets/pascal_taskonomy.py',
    '../_base_/schedules/schedule_s4t_60k.py',
    '../_base_/default_runtime.py',
]
fused_channels = 256 + 512 + 1024 + 2048
model = dict(
    heads=dict(
        _delete_=True,
        edge=dict(type='EdgeHead', in_channels=fused_channels),
        normals=dict(type='NormalsHead', in_channels=fused_channels),
        semseg=dict(type='SemSegHead', num_classes=6,
                    in_channels=fused_channels)),
    loss_combiner=dict(weights=dict(_delete_=True, semseg=1.0, normals=10.0,
                                    edge=50.0)))
custom_hooks = [
    dict(
        type='TestTimeAdaptHook',
        adapter=dict(
            type='S4TAdapter',
            weighting='squared_task_weights',
            optimizer=dict(type='SGD', lr=2e-5, weight_decay=1e-6)),
        protocol=dict(type='paper', steps=40, num_batches=1, seed=0)),
]
