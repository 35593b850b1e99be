# S4T's reference architecture: ResNet-50, all four stages resized to stride 4
# and concatenated (3840 channels), 1x1 task heads, a task-feature
# compressor (C = 64 per task), 1x1 auxiliary heads and a masked
# autoencoder over the compressed maps (input 256, patch 16, encoder 4 x 64,
# decoder 2 x 64, 4 heads each, mask ratio 0.8).
#
# The backbone starts from ImageNet weights, as the reference's does: the
# torchvision file its code loads. Source training fetches it into torch's
# hub cache (~/.cache/torch/hub/checkpoints/, or $TORCH_HOME/hub/checkpoints/)
# unless it is already there; without network, copy the file there or point
# the config at a local copy:
#   --cfg-options model.backbone.init_cfg.checkpoint=/path/to/resnet50.pth
# A file that cannot be fetched or read, or that leaves backbone weights
# unset, stops training with an error (s4t_mm's 'Pretrained' initializer);
# it never goes on from random weights. Adaptation loads a trained S4T
# checkpoint instead and never reads this file.
resnet50_imagenet = 'https://download.pytorch.org/models/resnet50-19c8e357.pth'
norm_cfg = dict(type='BN', requires_grad=True)
fused_channels = 256 + 512 + 1024 + 2048
data_preprocessor = dict(
    type='MultiTaskDataPreprocessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    size_divisor=32)
model = dict(
    type='MultiTaskEncoderDecoder',
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='mmseg.ResNet',
        depth=50,
        num_stages=4,
        out_indices=(0, 1, 2, 3),
        norm_cfg=norm_cfg,
        norm_eval=False,
        style='pytorch',
        init_cfg=dict(type='Pretrained', checkpoint=resnet50_imagenet)),
    neck=dict(type='MultiLevelConcat'),
    heads=dict(
        depth=dict(type='DepthHead', in_channels=fused_channels),
        edge=dict(type='EdgeHead', in_channels=fused_channels),
        normals=dict(type='NormalsHead', in_channels=fused_channels),
        semseg=dict(type='SemSegHead', num_classes=7,
                    in_channels=fused_channels)),
    relation_predictor=dict(
        type='TaskRelationPredictor',
        in_channels=fused_channels,
        task_feat_channels=64,
        input_size=256,
        mask_ratio=0.8,
        autoencoder=dict(
            patch_size=16, embed_dim=64, depth=4, num_heads=4,
            decoder_embed_dim=64, decoder_depth=2, decoder_num_heads=4)),
    relation_loss_weight=0.01,
    loss_combiner=dict(
        type='TaskWeightCombiner',
        weights=dict(semseg=1.0, depth=1.0, normals=10.0, edge=50.0)))
