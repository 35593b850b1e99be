# S4T on an existing MMSegmentation model: the dilated ResNetV1c-18 of mmseg's
# FCN / DeepLab configs is the shared encoder, and two stock mmseg decode
# heads become task heads: FCNHead for semantic segmentation, ASPPHead (with
# num_classes=1, i.e. one output channel) for depth. No neck: the heads and
# the relation predictor read the backbone's own feature tuple, here its last
# stage (in_index=3, stride 8, 512 channels). Any mmseg backbone / decode head
# pair works the same way; set in_channels/in_index to what the backbone
# gives.
#
#   python tools/train.py configs/s4t/mmseg_heads_example.py
#   python tools/test_time_adapt.py configs/s4t/mmseg_heads_example.py \
#       --checkpoint work_dirs/mmseg_heads_example/iter_800.pth
#
# Training uses the embedded world (semseg + depth); adaptation is S4T with
# the paper protocol on the embedded target domains.
_base_ = [
    '../_base_/datasets/synthetic_world.py',
    '../_base_/datasets/synthetic_world_targets.py',
    '../_base_/schedules/schedule_adam_poly.py',
    '../_base_/default_runtime.py',
    '../_base_/tta/protocols.py',
]
tasks = ['semseg', 'depth']
num_classes = 6  # the embedded world's classes
norm_cfg = dict(type='BN', requires_grad=True)
encoder_channels = 512  # last stage of a ResNet-18
model = dict(
    type='MultiTaskEncoderDecoder',
    data_preprocessor=dict(
        type='MultiTaskDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        size_divisor=8),
    backbone=dict(
        type='mmseg.ResNetV1c',
        depth=18,
        num_stages=4,
        out_indices=(0, 1, 2, 3),
        dilations=(1, 1, 2, 4),
        strides=(1, 2, 1, 1),
        norm_cfg=norm_cfg,
        norm_eval=False,
        contract_dilation=True),
    heads=dict(
        semseg=dict(
            type='SemSegHead',
            num_classes=num_classes,
            decoder=dict(
                type='mmseg.FCNHead',
                in_channels=encoder_channels,
                in_index=3,
                channels=128,
                num_convs=2,
                concat_input=True,
                dropout_ratio=0.1,
                num_classes=num_classes,
                norm_cfg=norm_cfg,
                align_corners=False)),
        depth=dict(
            type='DepthHead',
            decoder=dict(
                type='mmseg.ASPPHead',
                in_channels=encoder_channels,
                in_index=3,
                channels=128,
                dilations=(1, 6, 12, 18),
                dropout_ratio=0.1,
                num_classes=1,
                norm_cfg=norm_cfg,
                align_corners=False))),
    # S4T's relation predictor on the same features the heads read
    relation_predictor=dict(
        type='TaskRelationPredictor',
        in_channels=encoder_channels,
        in_index=3,
        task_feat_channels=32,
        input_size=64,
        mask_ratio=0.8,
        autoencoder=dict(
            patch_size=8, embed_dim=64, depth=2, num_heads=4,
            decoder_embed_dim=64, decoder_depth=1, decoder_num_heads=4)),
    relation_loss_weight=0.01,
    loss_combiner=dict(
        type='TaskWeightCombiner', weights=dict(semseg=1.0, depth=1.0)))

train_dataloader = dict(dataset=dict(tasks=tasks))
val_dataloader = dict(dataset=dict(tasks=tasks))
test_dataloader = dict(dataset=dict(tasks=tasks))

max_iters = 800
optim_wrapper = dict(optimizer=dict(type='Adam', lr=1e-3, weight_decay=1e-6))
param_scheduler = [
    dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=max_iters,
         by_epoch=False)
]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(checkpoint=dict(interval=max_iters, save_last=True))

# Test-time adaptation (tools/test_time_adapt.py): S4T, the paper protocol.
custom_hooks = [
    dict(
        type='TestTimeAdaptHook',
        adapter=dict(
            type='S4TAdapter',
            weighting='squared_task_weights',
            loss_weight=0.01,
            optimizer=dict(type='SGD', lr=1e-3, weight_decay=1e-6)),
        protocol=dict(_base_.paper_protocol)),
]
