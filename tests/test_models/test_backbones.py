"""mmseg backbones and decode heads build by name inside our model."""
import pytest
import torch

from s4t_mm.registry import MODELS


def _model(backbone, fused_channels, semseg_head=None):
    heads = dict(
        semseg=semseg_head or dict(type='SemSegHead', num_classes=3,
                                   in_channels=fused_channels),
        depth=dict(type='DepthHead', in_channels=fused_channels))
    return MODELS.build(dict(type='MultiTaskEncoderDecoder',
                             backbone=backbone,
                             neck=dict(type='MultiLevelConcat'),
                             heads=heads))


@pytest.mark.parametrize('backbone,fused', [
    (dict(type='mmseg.ResNet', depth=18, base_channels=8, stem_channels=8),
     8 + 16 + 32 + 64),
    (dict(type='mmseg.ResNetV1c', depth=18, base_channels=8,
          stem_channels=8), 8 + 16 + 32 + 64),
    (dict(type='mmseg.MixVisionTransformer', in_channels=3, embed_dims=8,
          num_stages=4, num_layers=[1, 1, 1, 1], num_heads=[1, 2, 4, 8],
          patch_sizes=[7, 3, 3, 3], sr_ratios=[8, 4, 2, 1],
          out_indices=(0, 1, 2, 3), mlp_ratio=2), 8 + 16 + 32 + 64),
])
def test_mmseg_backbones(backbone, fused):
    model = _model(backbone, fused)
    out = model(torch.rand(1, 3, 64, 64), mode='tensor')
    assert out['semseg'].shape == (1, 3, 64, 64)
    sum(o.mean() for o in out.values()).backward()
    grads = [p.grad for p in model.backbone.parameters() if p.requires_grad]
    assert any(g is not None and g.abs().sum() > 0 for g in grads)


def test_mmseg_fcn_head_as_the_segmentation_head_of_a_resnet():
    model = _model(
        dict(type='mmseg.ResNet', depth=18, base_channels=8, stem_channels=8),
        120,
        semseg_head=dict(type='SemSegHead', num_classes=3, decoder=dict(
            type='mmseg.FCNHead', in_channels=120, channels=16, num_convs=1,
            num_classes=3)))
    out = model(torch.rand(1, 3, 64, 64), mode='tensor')
    assert out['semseg'].shape == (1, 3, 64, 64)
