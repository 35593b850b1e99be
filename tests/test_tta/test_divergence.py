"""A failure during adaptation never stays in the model: non-finite losses,
gradients, parameters, statistics and predictions restore the last good
state, are counted and listed, and stop a domain after K in a row."""
import pytest
import torch

from s4t_mm.tta.session import prediction_tensors
from s4t_mm.registry import ADAPTERS, HOOKS, MODELS
from s4t_mm.structures import MultiTaskDataSample
from s4t_mm.tta.adapters.base_adapter import FAILURE_COUNTERS
from ..test_models.utils import synthetic_batch, tiny_model_cfg


def _model():
    torch.manual_seed(42)
    return MODELS.build(tiny_model_cfg(relation=True))


def _state(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _assert_state(model, state):
    for k, v in model.state_dict().items():
        assert torch.equal(state[k], v), k


def _bound(model, **cfg):
    cfg = dict(dict(type='S4TAdapter', loss_weight=1.0,
                    optimizer=dict(type='SGD', lr=0.05)), **cfg)
    return ADAPTERS.build(cfg).bind(model)


def _inputs(model, n=2, seed=0):
    return model.data_preprocessor(synthetic_batch(n=n, seed=seed))['inputs']


def _failures(adapter):
    return {e: adapter.stats[c] for e, c in FAILURE_COUNTERS.items()
            if adapter.stats[c]}


def test_nan_images_fall_back_to_the_source_state_and_stop():
    model = _model()
    source = _state(model)
    adapter = _bound(model, max_consecutive_failures=2)
    adapter.begin_domain()
    adapter.adapt(torch.full_like(_inputs(model), float('nan')), steps=5)
    # every step is undone at once; the flags are read after the fifth
    assert [e['action'] for e in adapter.events] == [
        'restored_source'] * 5 + ['stopped']
    assert adapter.stats['steps'] == 0 and adapter.stopped
    assert all(v != v for v in adapter.last_losses.values())  # NaN
    _assert_state(model, source)
    adapter.adapt(_inputs(model), steps=3)
    assert adapter.stats['steps_not_run'] == 3


def test_bn_adapt_never_keeps_non_finite_statistics():
    model = _model()
    source = _state(model)
    adapter = ADAPTERS.build(dict(type='NormStatsAdapter',
                                  momentum=1.0)).bind(model)
    adapter.begin_domain()
    adapter.adapt(torch.full_like(_inputs(model), float('nan')), steps=2)
    assert _failures(adapter) == {'non_finite_buffers': 2}
    _assert_state(model, source)
    adapter.adapt(_inputs(model), steps=1)
    assert adapter.stats['steps'] == 1 and _failures(adapter) == {
        'non_finite_buffers': 2}
    assert not torch.equal(model.backbone.stem[1].running_mean,
                           source['backbone.stem.1.running_mean'])


def test_without_the_guard_non_finite_losses_are_only_counted():
    model = _model()
    adapter = _bound(model, guard_non_finite=False)
    adapter.begin_domain()
    adapter.adapt(torch.full_like(_inputs(model), float('nan')), steps=4)
    assert _failures(adapter) == {'non_finite_loss': 4}
    assert adapter.stats['restored_source'] == 0 and not adapter.stopped
    assert {e['action'] for e in adapter.events} == {'none'}
    assert adapter.stats['steps'] == 4


def test_hook_reports_non_finite_predictions(tmp_path):
    from mmengine.logging import MessageHub
    model = _model()
    hook = HOOKS.build(dict(type='TestTimeAdaptHook',
                            adapter=dict(type='S4TAdapter'),
                            protocol=dict(type='episodic', steps=1)))

    class Runner:
        pass

    runner = Runner()
    runner.model = model
    runner.message_hub = MessageHub.get_instance('test_divergence_hook')
    hook.before_test(runner)
    good, bad = MultiTaskDataSample(), MultiTaskDataSample()
    good.set_pred('depth', torch.ones(1, 4, 4))
    good.set_pred('semseg', torch.zeros(1, 4, 4, dtype=torch.long))
    bad.set_pred('depth', torch.tensor([[[1.0, float('inf')]]]))
    bad.set_gt('depth', torch.full((1, 1, 2), float('nan')))
    assert len(list(prediction_tensors([good, bad]))) == 2  # no gt, no long
    hook.after_test_iter(runner, 0, None, [good])
    assert hook.adapter.stats['non_finite_predictions'] == 0
    hook.after_test_iter(runner, 1, None, [good, bad])
    hook.after_test(runner)
    assert runner.message_hub.get_info('tta_stats')[
        'non_finite_predictions'] == 1
    assert runner.message_hub.get_info('tta_events') == [dict(
        step=0, event='non_finite_predictions', action='restored_source',
        batch=1)]


def test_max_consecutive_failures_must_be_positive():
    with pytest.raises(ValueError, match='max_consecutive_failures must be '
                       '>= 1, got 0'):
        ADAPTERS.build(dict(type='S4TAdapter', max_consecutive_failures=0))


# -- decided on the device, read once per adapt() ------------------------
def _count_reads(monkeypatch):
    """Record every call that reads a tensor's value on the host."""
    calls = []
    for name in ('tolist', 'item', '__bool__', '__float__', '__int__'):
        original = getattr(torch.Tensor, name)

        def wrapper(self, *args, _name=name, _fn=original, **kwargs):
            calls.append(_name)
            return _fn(self, *args, **kwargs)
        monkeypatch.setattr(torch.Tensor, name, wrapper)
    return calls


def test_the_guard_reads_the_device_once_per_adapt(monkeypatch):
    model = _model()
    adapter = _bound(model)
    inputs = _inputs(model)
    calls = _count_reads(monkeypatch)
    adapter.adapt(inputs, steps=5)
    assert calls == ['tolist']  # the five steps' flags, together
    assert adapter.stats['steps'] == 5
    losses = adapter.last_losses  # read only when asked for
    assert calls == ['tolist'] * 2 and sorted(losses) == [
        'depth.s4t', 'edge.s4t', 'normals.s4t', 'semseg.s4t']


def test_good_steps_are_the_unguarded_steps_bitwise():
    models, losses = [], []
    for guarded in (True, False):
        model = _model()
        adapter = _bound(model, guard_non_finite=guarded, optimizer=dict(
            type='SGD', lr=0.05, momentum=0.9))
        adapter.adapt(_inputs(model), steps=3, seed=1)
        adapter.adapt(_inputs(model, seed=1), steps=2, seed=2)
        models.append(model)
        losses.append(adapter.last_losses)
    source = _state(_model())
    assert any(not torch.equal(source[k], v)
               for k, v in models[0].state_dict().items())  # it moved
    _assert_state(models[1], _state(models[0]))
    assert losses[0] == losses[1]


def test_exploding_steps_are_undone_each_and_stop():
    model = _model()
    source = _state(model)
    adapter = _bound(model, norm_policy='source_stats',
                     optimizer=dict(type='SGD', lr=float('inf')))
    adapter.begin_domain()
    adapter.adapt(_inputs(model), steps=4)
    # every step is undone at once, back to the source (no good step yet);
    # the four failures in a row stop the domain when the flags are read
    assert _failures(adapter) == {'non_finite_parameters': 4}
    assert adapter.stats['steps'] == 0
    assert adapter.stats['restored_source'] == 4
    assert adapter.events[-1] == dict(step=4, event='consecutive_failures',
                                      action='stopped')
    assert [e['step'] for e in adapter.events[:-1]] == [1, 2, 3, 4]
    _assert_state(model, source)
    adapter.adapt(_inputs(model), steps=2)
    assert adapter.stats['steps_not_run'] == 2


def test_a_bad_batch_restores_the_last_good_state_and_a_fresh_momentum():
    model = _model()
    adapter = _bound(model, optimizer=dict(
        type='SGD', lr=0.05, momentum=0.9))
    adapter.begin_domain()
    good = _inputs(model)
    adapter.adapt(good, steps=2)
    after_good = _state(model)
    momentum = [s['momentum_buffer'] for s in adapter.optimizer.state.values()]
    assert any(m.abs().sum() > 0 for m in momentum)
    # train-mode BatchNorm takes the NaN batch into its statistics, the loss
    # and gradients are NaN: both steps are undone on the device
    adapter.adapt(torch.full_like(good, float('nan')), steps=2)
    assert adapter.events == [
        dict(step=3, event='non_finite_gradients',
             action='restored_last_good'),
        dict(step=4, event='non_finite_gradients',
             action='restored_last_good')]
    _assert_state(model, after_good)
    assert all(torch.equal(s['momentum_buffer'], torch.zeros_like(
        s['momentum_buffer'])) for s in adapter.optimizer.state.values())
    assert not adapter.stopped  # 2 < max_consecutive_failures
    adapter.adapt(good, steps=1)
    assert adapter.stats['steps'] == 3 and adapter.guard.failures == 0
    assert all(torch.isfinite(p).all() for _, p in adapter.adapted)


def test_predictions_failure_restores_the_source():
    model = _model()
    source = _state(model)
    adapter = _bound(model)
    adapter.adapt(_inputs(model), steps=2)
    # the current state is the last good one; its predictions failing leaves
    # only the source state
    adapter.recover('non_finite_predictions', batch=0)
    assert adapter.events[-1] == dict(step=2, event='non_finite_predictions',
                                      action='restored_source', batch=0)
    _assert_state(model, source)
    adapter.reset()
    _assert_state(model, source)


@pytest.mark.parametrize('cfg', [
    dict(type='S4TAdapter'), dict(type='S4TAdapter', weighting='uncertainty'),
    dict(type='TentAdapter'), dict(type='EataAdapter'),
    dict(type='AuxConsistencyAdapter'), dict(type='MaskedImageAdapter')])
def test_no_adapter_reads_the_device_per_step(
        monkeypatch, cfg):
    import s4t_mm.models.self_supervised  # noqa: F401
    from ..test_models.utils import TINY_FUSED_CHANNELS
    torch.manual_seed(42)
    model = MODELS.build(tiny_model_cfg(
        relation=True, self_supervised=dict(image=dict(
            type='MaskedImageReconstruction',
            in_channels=TINY_FUSED_CHANNELS, patch_size=4, channels=8))))
    adapter = ADAPTERS.build(cfg).bind(model)
    inputs = _inputs(model)
    calls = _count_reads(monkeypatch)
    adapter.adapt(inputs, steps=5)
    # the guard's flags, and EATA's check of the batch's class distribution
    expected = ['tolist', '__bool__'] if cfg['type'] == 'EataAdapter' \
        else ['tolist']
    assert calls == expected
    assert adapter.stats['steps'] == 5
