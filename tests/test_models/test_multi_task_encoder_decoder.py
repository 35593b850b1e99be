import pytest
import torch
from mmengine.optim import OptimWrapper

from s4t_mm.registry import MODELS
from .utils import TINY_FUSED_CHANNELS, synthetic_batch, tiny_model_cfg


def _train(model, batch, steps, lr=1e-2):
    wrapper = OptimWrapper(torch.optim.Adam(model.parameters(), lr=lr))
    losses = []
    model.train()
    for _ in range(steps):
        log_vars = model.train_step(batch, wrapper)
        losses.append(float(log_vars['loss']))
    return losses


@pytest.mark.parametrize('relation', [False, True])
def test_loss_decreases_on_a_fixed_batch(relation):
    model = MODELS.build(tiny_model_cfg(relation=relation))
    losses = _train(model, synthetic_batch(), steps=30)
    assert losses[-1] < 0.5 * losses[0]


def test_loss_terms_and_relation_weight():
    model = MODELS.build(tiny_model_cfg(relation=True,
                                        relation_loss_weight=0.5))
    data = model.data_preprocessor(synthetic_batch(), training=True)
    torch.manual_seed(1)
    losses = model.loss(**data)
    assert set(k for k in losses if k.startswith('loss_')) == {
        'loss_semseg', 'loss_depth', 'loss_normals', 'loss_edge'}
    for task in model.tasks:
        expected = losses[f'{task}.main'] + 0.5 * (
            losses[f'{task}.aux'] + losses[f'{task}.rel'])
        torch.testing.assert_close(losses[f'loss_{task}'].detach(), expected)


def test_task_weights_scale_each_task():
    weights = dict(semseg=1.0, depth=2.0, normals=10.0, edge=50.0)
    model = MODELS.build(tiny_model_cfg(
        loss_combiner=dict(type='TaskWeightCombiner', weights=weights)))
    data = model.data_preprocessor(synthetic_batch(), training=True)
    losses = model.loss(**data)
    for task, w in weights.items():
        torch.testing.assert_close(losses[f'loss_{task}'].detach(),
                                   w * losses[f'{task}.main'])


def test_predict_shapes_ranges_and_unit_normals():
    model = MODELS.build(tiny_model_cfg(relation=True))
    model.eval()
    batch = synthetic_batch(n=2, size=32)
    with torch.no_grad():
        samples = model.test_step(batch)
    assert len(samples) == 2
    for s in samples:
        assert s.pred('semseg').shape == (1, 32, 32)
        assert s.pred('semseg').dtype == torch.long
        assert 0 <= int(s.pred('semseg').min())
        assert int(s.pred('semseg').max()) < 4
        assert s.pred('depth').shape == (1, 32, 32)
        assert float(s.pred('depth').min()) > 0
        norms = s.pred('normals').norm(dim=0)
        torch.testing.assert_close(norms, torch.ones_like(norms))
        edge = s.pred('edge')
        assert float(edge.min()) >= 0 and float(edge.max()) <= 1


def test_predict_crops_padding_and_resizes_to_ori_shape():
    model = MODELS.build(tiny_model_cfg(
        data_preprocessor=dict(type='MultiTaskDataPreprocessor',
                               size_divisor=16)))
    model.eval()
    batch = synthetic_batch(n=1, size=20)
    batch['data_samples'][0].set_metainfo(dict(ori_shape=(40, 30)))
    with torch.no_grad():
        sample = model.test_step(batch)[0]
    assert sample.batch_input_shape == (32, 32)
    assert sample.pred('depth').shape == (1, 40, 30)
    assert sample.pred('normals').shape == (3, 40, 30)


def test_tensor_mode_returns_raw_outputs_at_input_size():
    model = MODELS.build(tiny_model_cfg())
    out = model(torch.rand(2, 3, 32, 32), mode='tensor')
    assert {k: tuple(v.shape) for k, v in out.items()} == {
        'semseg': (2, 4, 32, 32), 'depth': (2, 1, 32, 32),
        'normals': (2, 3, 32, 32), 'edge': (2, 1, 32, 32)}


def test_head_key_must_match_the_head_task():
    cfg = tiny_model_cfg()
    cfg['heads']['normals'] = dict(type='DepthHead',
                                   in_channels=TINY_FUSED_CHANNELS)
    with pytest.raises(ValueError, match="heads\\['normals'\\] is a "
                       "DepthHead, which predicts 'depth'"):
        MODELS.build(cfg)


def test_weights_for_unknown_task_are_rejected():
    cfg = tiny_model_cfg(loss_combiner=dict(
        type='TaskWeightCombiner', weights=dict(nromals=10.0)))
    with pytest.raises(ValueError, match=r"unknown task\(s\) \['nromals'\]"):
        MODELS.build(cfg)


def test_missing_ground_truth_names_the_task():
    model = MODELS.build(tiny_model_cfg())
    batch = synthetic_batch()
    for s in batch['data_samples']:
        del s.gt_edge
    data = model.data_preprocessor(batch, training=True)
    with pytest.raises(KeyError, match="no ground truth for task 'edge'"):
        model.loss(**data)


def test_class_count_mismatch_is_reported():
    model = MODELS.build(tiny_model_cfg())
    batch = synthetic_batch()
    batch['data_samples'][0].gt_semseg.data[0, 5, 5] = 6
    data = model.data_preprocessor(batch, training=True)
    with pytest.raises(ValueError, match='class id 6 is outside 0..3'):
        model.loss(**data)


def test_uncertainty_combiner_gets_the_model_tasks():
    model = MODELS.build(tiny_model_cfg(
        loss_combiner=dict(type='UncertaintyWeightCombiner')))
    assert model.loss_combiner.tasks == model.tasks
    data = model.data_preprocessor(synthetic_batch(), training=True)
    losses = model.loss(**data)
    for task in model.tasks:
        # scales start at 1: 0.5 * L + log(2)
        torch.testing.assert_close(
            losses[f'loss_{task}'].detach(),
            0.5 * losses[f'{task}.main'] + torch.log(torch.tensor(2.0)))


def test_activated_outputs_are_each_heads_soft_predictions():
    model = MODELS.build(tiny_model_cfg())
    torch.manual_seed(0)
    raw = {task: torch.randn(2, model.heads[task].out_channels, 4, 4)
           for task in ('semseg', 'normals', 'edge')}
    soft = model.activated_outputs(raw)
    assert list(soft) == ['semseg', 'normals', 'edge']
    torch.testing.assert_close(soft['semseg'], raw['semseg'].softmax(1))
    torch.testing.assert_close(soft['edge'], raw['edge'].sigmoid())
    torch.testing.assert_close(soft['normals'].norm(dim=1),
                               torch.ones(2, 4, 4))
    with pytest.raises(KeyError, match=r"unknown tasks \['shading'\]"):
        model.activated_outputs(dict(shading=raw['edge']))
