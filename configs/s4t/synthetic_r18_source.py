# Source training on the embedded world's 'source' style: the small S4T model
# (main heads + auxiliary heads + relation predictor, lambda = 0.01).
_base_ = [
    '../_base_/models/s4t_r18_tiny.py',
    '../_base_/datasets/synthetic_world.py',
    '../_base_/schedules/schedule_adam_poly.py',
    '../_base_/default_runtime.py',
]
max_iters = 400
optim_wrapper = dict(optimizer=dict(type='Adam', lr=2e-3, weight_decay=1e-6))
param_scheduler = [
    dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=max_iters,
         by_epoch=False)
]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(
    checkpoint=dict(interval=max_iters // 2, max_keep_ckpts=2,
                    save_last=True))
# Every checkpoint carries the calibration the safe normalisation policies
# read (configs/_base_/tta/methods.py): the source's batch-to-batch spread
# of its BatchNorm statistics and, at the end of training, the
# shift-response rule; training is unchanged.
custom_hooks = [dict(type='NormCalibrationHook', num_batches=16)]
