import pytest
import torch
import torch.nn.functional as F

from s4t_mm.registry import MODELS


def _feats(n=2, c=6, size=8):
    return (torch.randn(n, c, size, size), )


@pytest.mark.parametrize('cfg,channels', [
    (dict(type='SemSegHead', num_classes=5), 5),
    (dict(type='SemSegHead', num_classes=3, task='human_parts'), 3),
    (dict(type='DepthHead'), 1),
    (dict(type='NormalsHead'), 3),
    (dict(type='EdgeHead'), 1),
    (dict(type='SaliencyHead'), 1),
])
def test_every_head_builds_runs_and_backpropagates(cfg, channels):
    head = MODELS.build(dict(cfg, in_channels=6))
    raw = head(_feats())
    assert raw.shape == (2, channels, 8, 8)
    target_shape = (2, 1 if channels != 3 or cfg['type'] != 'NormalsHead'
                    else 3, 16, 16)
    if cfg['type'] == 'SemSegHead':
        target = torch.randint(0, channels, target_shape)
    elif cfg['type'] == 'NormalsHead':
        target = F.normalize(torch.randn(target_shape), dim=1)
    else:
        target = torch.randint(0, 2, target_shape).float()
    loss = head.loss(raw, target)
    loss.backward()
    assert loss.item() > 0
    assert head.conv_out.weight.grad.abs().sum() > 0


def test_activations():
    raw = torch.tensor([[[[0.0]], [[2.0]], [[-1.0]]]])
    assert MODELS.build(dict(type='SemSegHead', num_classes=3,
                             in_channels=1)).activate(raw).item() == 1
    normals = MODELS.build(dict(type='NormalsHead', in_channels=1))
    torch.testing.assert_close(normals.activate(raw).norm(dim=1),
                               torch.ones(1, 1, 1))
    edge = MODELS.build(dict(type='EdgeHead', in_channels=1))
    assert edge.activate(torch.zeros(1, 1, 1, 1)).item() == 0.5
    depth = MODELS.build(dict(type='DepthHead', in_channels=1))
    assert depth.activate(torch.full((1, 1, 1, 1), -3.0)).item() == \
        pytest.approx(1e-3)


def test_hidden_convs_and_resize_concat_inputs():
    head = MODELS.build(dict(type='DepthHead', in_channels=6 + 4,
                             channels=8, num_convs=2, in_index=[0, 1],
                             input_transform='resize_concat'))
    feats = (torch.randn(1, 6, 8, 8), torch.randn(1, 4, 4, 4))
    assert head(feats).shape == (1, 1, 8, 8)
    assert len(head.convs) == 2


def test_mmseg_decode_head_as_segmentation_body():
    head = MODELS.build(dict(
        type='SemSegHead', num_classes=5,
        decoder=dict(type='mmseg.FCNHead', in_channels=6, channels=8,
                     num_convs=1, num_classes=5, in_index=0)))
    raw = head(_feats())
    assert raw.shape == (2, 5, 8, 8)
    loss = head.loss(raw, torch.randint(0, 5, (2, 1, 16, 16)))
    loss.backward()
    assert head.decoder.conv_seg.weight.grad.abs().sum() > 0


def test_decoder_with_wrong_class_count_is_rejected():
    with pytest.raises(ValueError, match='outputs 4 channels but the head '
                       'needs 5'):
        MODELS.build(dict(
            type='SemSegHead', num_classes=5,
            decoder=dict(type='mmseg.FCNHead', in_channels=6, channels=8,
                         num_convs=1, num_classes=4)))


def test_bad_arguments_name_the_valid_choices():
    with pytest.raises(ValueError, match="valid: None, 'resize_concat'"):
        MODELS.build(dict(type='DepthHead', in_channels=4,
                          input_transform='concat'))
    with pytest.raises(ValueError, match='needs in_channels'):
        MODELS.build(dict(type='DepthHead'))
