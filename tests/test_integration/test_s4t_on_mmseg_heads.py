"""configs/s4t/mmseg_heads_example.py: an mmseg backbone and mmseg decode
heads as the task heads of an S4T model, trained a step and adapted."""
import os.path as osp
from types import SimpleNamespace

import torch
from mmengine.config import Config
from mmengine.optim import OptimWrapper
from mmseg.models.decode_heads import ASPPHead, FCNHead

from s4t_mm.registry import HOOKS, MODELS
from ..test_models.utils import synthetic_batch

CONFIG = osp.join(osp.dirname(__file__), '..', '..', 'configs', 's4t',
                  'mmseg_heads_example.py')
TINY = {
    'model.backbone.stem_channels': 8,
    'model.backbone.base_channels': 8,
    'model.heads.semseg.decoder.in_channels': 64,
    'model.heads.semseg.decoder.channels': 16,
    'model.heads.depth.decoder.in_channels': 64,
    'model.heads.depth.decoder.channels': 16,
    'model.relation_predictor.in_channels': 64,
    'model.relation_predictor.task_feat_channels': 4,
    'model.relation_predictor.input_size': 16,
    'model.relation_predictor.autoencoder': dict(
        patch_size=4, embed_dim=16, depth=1, num_heads=2,
        decoder_embed_dim=16, decoder_depth=1, decoder_num_heads=2),
}


def _tiny_config():
    cfg = Config.fromfile(CONFIG)
    cfg.merge_from_dict(TINY)
    return cfg


def _flat(module):
    return torch.cat([p.detach().flatten() for p in module.parameters()])


def test_mmseg_decode_heads_serve_as_task_heads():
    cfg = _tiny_config()
    model = MODELS.build(cfg.model)
    assert isinstance(model.heads['semseg'].decoder, FCNHead)
    assert isinstance(model.heads['depth'].decoder, ASPPHead)
    assert model.neck is None
    assert model.relation_predictor.task_channels == dict(semseg=6, depth=1)
    batch = synthetic_batch(n=2, size=32, num_classes=6)
    wrapper = OptimWrapper(torch.optim.Adam(model.parameters(), lr=1e-3))
    model.train()
    losses = model.train_step(batch, wrapper)
    assert {'loss_semseg', 'loss_depth', 'semseg.rel', 'depth.aux'} <= set(
        losses)
    assert all(torch.isfinite(v) for v in losses.values())
    model.eval()
    with torch.no_grad():
        sample = model.test_step(batch)[0]
    assert sample.pred('semseg').shape == (1, 32, 32)
    assert int(sample.pred('semseg').max()) < 6
    assert sample.pred('depth').shape == (1, 32, 32)


def test_config_adapts_it_with_s4t_through_the_hook():
    cfg = _tiny_config()
    model = MODELS.build(cfg.model)
    hook_cfg = dict(cfg.custom_hooks[0])
    hook_cfg['protocol'] = dict(hook_cfg['protocol'], steps=3)
    hook_cfg['adapter'] = dict(hook_cfg['adapter'],
                               optimizer=dict(type='SGD', lr=0.05))
    hook = HOOKS.build(hook_cfg)
    batch = synthetic_batch(n=2, size=32, num_classes=6)
    before = {name: _flat(getattr(model, name))
              for name in ('backbone', 'relation_predictor')}
    heads_before = _flat(model.heads)
    runner = SimpleNamespace(model=model, test_dataloader=_Loader(batch))
    hook.before_test(runner)
    stats = hook.adapter.stats
    assert stats['steps'] == 3 and stats['skipped_non_finite_loss'] == 0
    assert set(hook.adapter.last_losses) == {'semseg.s4t', 'depth.s4t'}
    for name, value in before.items():
        assert not torch.equal(_flat(getattr(model, name)), value), name
    assert torch.equal(_flat(model.heads), heads_before)
    hook.adapter.reset()
    assert torch.equal(_flat(model.backbone), before['backbone'])


class _Loader:
    """What the paper protocol reads from the runner's test dataloader."""

    def __init__(self, batch):
        self.dataset = [dict(inputs=i, data_samples=s) for i, s in zip(
            batch['inputs'], batch['data_samples'])]
        self.batch_size = len(self.dataset)
        self.collate_fn = _collate


def _collate(items):
    return dict(inputs=[i['inputs'] for i in items],
                data_samples=[i['data_samples'] for i in items])
