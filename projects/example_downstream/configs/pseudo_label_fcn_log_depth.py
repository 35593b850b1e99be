# A downstream project's model, from the installed s4t_mm: S4T's embedded
# world setting (datasets, target domains, schedule, runtime) inherited from
# the package with `s4t_mm::`, the model's semantic head replaced by a stock
# MMSegmentation FCNHead, its depth head by this project's LogDepthHead,
# and S4T's adapter by this project's PseudoLabelAdapter.
#
#   python adapt_and_predict.py --work-dir work_dirs/example
_base_ = ['s4t_mm::s4t/synthetic_r18_s4t_tta.py']
custom_imports = dict(imports=['example_downstream'],
                      allow_failed_imports=False)

tasks = ['semseg', 'depth']
num_classes = 6  # the embedded world's classes
fused_channels = 16 + 32 + 64 + 128  # the base model's fused backbone levels
img_size = 64
model = dict(
    heads=dict(
        _delete_=True,
        semseg=dict(
            type='SemSegHead',
            num_classes=num_classes,
            decoder=dict(
                type='mmseg.FCNHead',
                in_channels=fused_channels,
                in_index=0,
                channels=32,
                num_convs=1,
                concat_input=False,
                dropout_ratio=0.0,
                num_classes=num_classes,
                norm_cfg=dict(type='BN', requires_grad=True),
                align_corners=False)),
        depth=dict(type='LogDepthHead', in_channels=fused_channels)),
    relation_predictor=None,
    loss_combiner=dict(weights=dict(_delete_=True, semseg=1.0, depth=1.0)))

train_dataloader = dict(
    dataset=dict(tasks=tasks, img_size=img_size, num_samples=200))
val_dataloader = dict(
    dataset=dict(tasks=tasks, img_size=img_size, num_samples=40))
test_dataloader = dict(
    dataset=dict(tasks=tasks, img_size=img_size, num_samples=40))

max_iters = 200
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
param_scheduler = [
    dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=max_iters,
         by_epoch=False)
]
default_hooks = dict(checkpoint=dict(interval=max_iters, max_keep_ckpts=1))

custom_hooks = [
    dict(
        type='TestTimeAdaptHook',
        adapter=dict(
            type='PseudoLabelAdapter',
            threshold=0.5,
            optimizer=dict(type='SGD', lr=1e-2, momentum=0.9)),
        protocol=dict(type='paper', steps=10, num_batches=1, seed=0)),
]
