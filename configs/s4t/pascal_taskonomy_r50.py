# S4T, PASCAL-Context -> Taskonomy, ResNet-50: semseg (6 shared classes),
# normals, edges (PASCAL-Context has no depth).
#
# Source training: task weights semseg 1, normals 10, edge 50.
# Adaptation: S4T for a Taskonomy target as the reference runs it
# (configs/_base_/tta/s4t_reference.py), its protocol.
_base_ = [
    '../_base_/models/s4t_r50.py',
    '../_base_/datasets/pascal_taskonomy.py',
    '../_base_/schedules/schedule_s4t_60k.py',
    '../_base_/default_runtime.py',
    '../_base_/tta/s4t_reference.py',
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
    dict(type='TestTimeAdaptHook', adapter=dict(_base_.s4t_taskonomy_target),
         protocol=dict(_base_.reference_protocol)),
]
