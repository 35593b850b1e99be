# S4T, NYUD-v2 -> Taskonomy, ResNet-50 (the paper's reference setting).
#
#   python tools/train.py configs/s4t/nyud_taskonomy_r50.py
#   python tools/test_time_adapt.py configs/s4t/nyud_taskonomy_r50.py \
#       --checkpoint CKPT
#
# Source training: task weights semseg 1, depth 1, normals 10, edge 50
# (configs/_base_/models/s4t_r50.py), ImageNet-initialised backbone.
# Adaptation: S4T for a Taskonomy target as the reference runs it
# (configs/_base_/tta/s4t_reference.py), its protocol.
_base_ = [
    '../_base_/models/s4t_r50.py',
    '../_base_/datasets/nyud_taskonomy.py',
    '../_base_/schedules/schedule_s4t_60k.py',
    '../_base_/default_runtime.py',
    '../_base_/tta/s4t_reference.py',
]
custom_hooks = [
    dict(type='TestTimeAdaptHook', adapter=dict(_base_.s4t_taskonomy_target),
         protocol=dict(_base_.reference_protocol)),
]
