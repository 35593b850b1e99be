# S4T, NYUD-v2 -> Taskonomy, ResNet-50 (the paper's reference setting).
# Source training: python tools/train.py configs/s4t/nyud_taskonomy_r50.py
# Adaptation:      python tools/test_time_adapt.py configs/s4t/nyud_taskonomy_r50.py --checkpoint CKPT
#
# Source training: task weights semseg 1, depth 1, normals 10, edge 50
# (configs/_base_/models/s4t_r50.py), ImageNet-initialised backbone.
# Adaptation: the reference picks its test-time objective by the *target*
# dataset; for a Taskonomy target it combines the per-task terms
# lam * L1(rel_t, sg(main_t)) by uncertainty weighting started fresh (every
# task weighs 0.5 * lam = 0.005 at the start), not by the source task
# weights. SGD lr 2e-5, 40 steps on the first batch of 8 images of the
# unshuffled target test set, then one evaluation of the whole target set.
_base_ = [
    '../_base_/models/s4t_r50.py',
    '../_base_/datasets/nyud_taskonomy.py',
    '../_base_/schedules/schedule_s4t_60k.py',
    '../_base_/default_runtime.py',
]
custom_hooks = [
    dict(
        type='TestTimeAdaptHook',
        adapter=dict(
            type='S4TAdapter',
            weighting='uncertainty',
            optimizer=dict(type='SGD', lr=2e-5, weight_decay=1e-6)),
        protocol=dict(type='paper', steps=40, num_batches=1, shuffle=False)),
]
