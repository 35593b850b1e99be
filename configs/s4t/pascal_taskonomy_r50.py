# S4T, PASCAL-Context -> Taskonomy, ResNet-50: semseg (6 shared classes),
# normals, edges (PASCAL-Context has no depth).
#
# Source training: task weights semseg 1, normals 10, edge 50.
# Adaptation: for a Taskonomy target the reference combines the per-task
# terms lam * L1(rel_t, sg(main_t)) by uncertainty weighting started fresh
# (0.5 * lam = 0.005 per task at the start), not by the source task weights.
# SGD lr 2e-5, 40 steps on the first batch of 8 images of the unshuffled
# target test set.
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
            weighting='uncertainty',
            optimizer=dict(type='SGD', lr=2e-5, weight_decay=1e-6)),
        protocol=dict(type='paper', steps=40, num_batches=1, shuffle=False)),
]
