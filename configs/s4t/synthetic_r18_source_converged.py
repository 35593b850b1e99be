# The benchmark source model of the embedded world: the small S4T model of
# synthetic_r18_source.py trained until its source-style validation metrics
# stop improving (the demo keeps the quick 400-iteration model). Validation
# every 500 iterations; training ends at 3000 iterations (end of the poly
# schedule) or earlier when the validation mIoU has not improved for three
# validations. docs/benchmarks.md has the validation curve and the time.
#
#   python tools/train.py configs/s4t/synthetic_r18_source_converged.py
_base_ = ['./synthetic_r18_source.py']
max_iters = 3000
val_interval = 500
param_scheduler = [
    dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=max_iters,
         by_epoch=False)
]
train_cfg = dict(max_iters=max_iters, val_interval=val_interval)
default_hooks = dict(
    logger=dict(interval=100),
    checkpoint=dict(interval=val_interval, max_keep_ckpts=1, save_last=True))
custom_hooks = [
    dict(type='EarlyStoppingHook', monitor='semseg/mIoU', rule='greater',
         min_delta=0.1, patience=3),
    dict(type='NormCalibrationHook', num_batches=16),
]
