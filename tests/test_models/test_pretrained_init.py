"""init_cfg=dict(type='Pretrained', ...) loads backbone weights, and stops
with a clear error instead of training from random weights. Nothing is
downloaded: the URL case runs with downloads made to fail."""
import urllib.error

import pytest
import torch

from s4t_mm.fileio import CheckpointMismatchError
from s4t_mm.registry import MODELS
from .utils import TINY_BACKBONE, tiny_model_cfg

URL = 'https://download.pytorch.org/models/resnet50-19c8e357.pth'


def _backbone(checkpoint=None, prefix=None):
    cfg = dict(TINY_BACKBONE)
    if checkpoint is not None:
        cfg['init_cfg'] = dict(type='Pretrained', checkpoint=checkpoint,
                               prefix=prefix)
    return MODELS.build(cfg)


def _assert_same_weights(a, b):
    for (name, x), y in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(x, y), name


@pytest.fixture
def source_file(tmp_path):
    """A backbone state dict written locally, as a user would provide."""
    source = _backbone()
    source.init_weights()
    with torch.no_grad():
        for p in source.parameters():
            p.add_(torch.rand_like(p))
    path = tmp_path / 'resnet_tiny.pth'
    torch.save(source.state_dict(), path)
    return source, path


def test_loads_a_local_state_dict_into_the_model_backbone(source_file):
    source, path = source_file
    model = MODELS.build(tiny_model_cfg(backbone=dict(
        TINY_BACKBONE, init_cfg=dict(type='Pretrained',
                                     checkpoint=str(path)))))
    model.init_weights()
    _assert_same_weights(model.backbone, source)


def test_wrapped_state_dict_with_module_prefix(source_file, tmp_path):
    source, _ = source_file
    path = tmp_path / 'wrapped.pth'
    torch.save({'state_dict': {f'module.{k}': v
                               for k, v in source.state_dict().items()}},
               path)
    target = _backbone(str(path))
    target.init_weights()
    _assert_same_weights(target, source)


def test_missing_file_names_it_and_the_override(tmp_path):
    path = tmp_path / 'absent' / 'resnet50.pth'
    with pytest.raises(RuntimeError) as err:
        _backbone(str(path)).init_weights()
    message = str(err.value)
    assert str(path) in message
    assert 'Put the checkpoint at that path' in message
    assert 'model.backbone.init_cfg.checkpoint=' in message


@pytest.fixture
def offline(tmp_path, monkeypatch):
    """An empty torch hub cache under tmp_path and no network."""
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch'))
    monkeypatch.setattr(torch.hub, '_hub_dir', None)

    def no_network(url, *args, **kwargs):
        raise urllib.error.URLError('no network in tests')

    monkeypatch.setattr(torch.hub, 'download_url_to_file', no_network)
    return tmp_path / 'torch' / 'hub' / 'checkpoints'


def test_url_without_network_names_the_cache_file(offline):
    with pytest.raises(RuntimeError) as err:
        _backbone(URL).init_weights()
    message = str(err.value)
    assert URL in message and 'no network in tests' in message
    assert str(offline / 'resnet50-19c8e357.pth') in message
    assert 'model.backbone.init_cfg.checkpoint=' in message


def test_url_loads_from_the_cache_without_network(offline, source_file):
    source, path = source_file
    offline.mkdir(parents=True)
    (offline / 'resnet50-19c8e357.pth').write_bytes(path.read_bytes())
    target = _backbone(URL)
    target.init_weights()
    _assert_same_weights(target, source)


def test_checkpoint_of_another_architecture_is_refused(tmp_path):
    path = tmp_path / 'other.pth'
    torch.save({'encoder.weight': torch.zeros(1)}, path)
    with pytest.raises(CheckpointMismatchError) as err:
        _backbone(str(path)).init_weights()
    message = str(err.value)
    assert 'missing from the checkpoint' in message
    assert "it holds keys like ['encoder.weight']" in message
    assert 'set prefix= in init_cfg' in message


def test_prefix_picks_the_backbone_of_a_whole_model(source_file, tmp_path):
    source, _ = source_file
    path = tmp_path / 'segmentor.pth'
    state = {f'backbone.{k}': v for k, v in source.state_dict().items()}
    state['decode_head.conv_seg.weight'] = torch.zeros(6, 8, 1, 1)
    torch.save({'state_dict': state}, path)
    target = _backbone(str(path), prefix='backbone')
    target.init_weights()
    _assert_same_weights(target, source)


def test_a_shape_mismatch_is_refused(source_file, tmp_path):
    source, _ = source_file
    state = source.state_dict()
    name = next(k for k, v in state.items() if v.dim() == 4)
    state[name] = torch.zeros(1, 1, 1, 1)
    path = tmp_path / 'resized.pth'
    torch.save(state, path)
    with pytest.raises(CheckpointMismatchError,
                       match=f'{name}: checkpoint \\(1, 1, 1, 1\\)'):
        _backbone(str(path)).init_weights()
