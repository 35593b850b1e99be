"""Tiny models and batches shared by the model tests."""
import torch

from s4t_mm.structures import MultiTaskDataSample

TINY_BACKBONE = dict(
    type='mmseg.ResNetV1c', depth=18, base_channels=8, stem_channels=8,
    num_stages=2, strides=(1, 2), dilations=(1, 1), out_indices=(0, 1),
    norm_cfg=dict(type='BN'))
TINY_FUSED_CHANNELS = 8 + 16


def tiny_heads(num_classes=4):
    return dict(
        semseg=dict(type='SemSegHead', num_classes=num_classes,
                    in_channels=TINY_FUSED_CHANNELS),
        depth=dict(type='DepthHead', in_channels=TINY_FUSED_CHANNELS),
        normals=dict(type='NormalsHead', in_channels=TINY_FUSED_CHANNELS),
        edge=dict(type='EdgeHead', in_channels=TINY_FUSED_CHANNELS),
    )


def tiny_model_cfg(relation=False, **kwargs):
    cfg = dict(
        type='MultiTaskEncoderDecoder',
        data_preprocessor=dict(type='MultiTaskDataPreprocessor',
                               mean=[128.0] * 3, std=[64.0] * 3),
        backbone=TINY_BACKBONE,
        neck=dict(type='MultiLevelConcat'),
        heads=tiny_heads())
    if relation:
        cfg['relation_predictor'] = dict(
            type='TaskRelationPredictor', in_channels=TINY_FUSED_CHANNELS,
            task_feat_channels=4, input_size=16, mask_ratio=0.75,
            autoencoder=dict(patch_size=4, embed_dim=16, depth=1,
                             num_heads=2, decoder_embed_dim=16,
                             decoder_depth=1, decoder_num_heads=2))
    cfg.update(kwargs)
    return cfg


def synthetic_batch(n=2, size=32, num_classes=4, seed=0):
    """Images whose labels are simple functions of the image, so a model can
    learn them: left half class 0 / right half class 1, depth from the red
    channel, a vertical edge in the middle, normals facing the camera."""
    g = torch.Generator().manual_seed(seed)
    inputs, samples = [], []
    for i in range(n):
        img = torch.randint(0, 256, (3, size, size), generator=g,
                            dtype=torch.uint8)
        img[:, :, size // 2:] //= 2
        sample = MultiTaskDataSample(metainfo=dict(
            img_shape=(size, size), ori_shape=(size, size),
            sample_idx=seed * 1000 + i))
        semseg = torch.zeros(1, size, size, dtype=torch.long)
        semseg[:, :, size // 2:] = 1 % num_classes
        semseg[:, :2, :2] = 255
        sample.set_gt('semseg', semseg)
        sample.set_gt('depth', 1.0 + img[:1].float() / 64.0)
        normals = torch.zeros(3, size, size)
        normals[2] = -1.0
        sample.set_gt('normals', normals)
        edge = torch.zeros(1, size, size)
        edge[:, :, size // 2] = 1.0
        sample.set_gt('edge', edge)
        inputs.append(img)
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)
