# S4T, NYUD-v2 -> Taskonomy, ResNet-50 (the paper's reference setting).
# Source training: python tools/train.py configs/s4t/nyud_taskonomy_r50.py
# Adaptation:      python tools/test_time_adapt.py configs/s4t/nyud_taskonomy_r50.py --checkpoint CKPT
# Adaptation objective: squared task weights (the reference's form for a
# NYUD-v2 model), SGD lr 2e-5, 40 steps on one batch of 8 target images.
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
            weighting='squared_task_weights',
            optimizer=dict(type='SGD', lr=2e-5, weight_decay=1e-6)),
        protocol=dict(type='paper', steps=40, num_batches=1, seed=0)),
]
