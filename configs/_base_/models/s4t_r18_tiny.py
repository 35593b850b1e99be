# A small S4T model for the embedded world on a CPU: ResNetV1c-18 at a
# quarter of the usual width (stages of 16..128 channels, 240 after the S4T
# concat fusion), 1x1 heads, and a small relation predictor (C = 16 per task,
# 64x64 input in 8x8 patches, encoder 2 x 64, decoder 1 x 64).
norm_cfg = dict(type='BN', requires_grad=True)
fused_channels = 16 + 32 + 64 + 128
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
        type='mmseg.ResNetV1c',
        depth=18,
        base_channels=16,
        stem_channels=16,
        num_stages=4,
        out_indices=(0, 1, 2, 3),
        norm_cfg=norm_cfg,
        norm_eval=False),
    neck=dict(type='MultiLevelConcat'),
    heads=dict(
        semseg=dict(type='SemSegHead', num_classes=6,
                    in_channels=fused_channels),
        depth=dict(type='DepthHead', in_channels=fused_channels),
        normals=dict(type='NormalsHead', in_channels=fused_channels),
        edge=dict(type='EdgeHead', in_channels=fused_channels)),
    relation_predictor=dict(
        type='TaskRelationPredictor',
        in_channels=fused_channels,
        task_feat_channels=16,
        input_size=64,
        mask_ratio=0.8,
        autoencoder=dict(
            patch_size=8, embed_dim=64, depth=2, num_heads=4,
            decoder_embed_dim=64, decoder_depth=1, decoder_num_heads=4)),
    relation_loss_weight=0.01,
    loss_combiner=dict(
        type='TaskWeightCombiner',
        weights=dict(semseg=1.0, depth=1.0, normals=10.0, edge=50.0)))
