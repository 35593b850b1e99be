import pytest
import torch

from s4t_mm.registry import ADAPTERS, MODELS
from s4t_mm.tta import StateSnapshot
from ..test_models.utils import synthetic_batch, tiny_model_cfg


def test_snapshot_restores_in_place_bitwise():
    a = torch.randn(5)
    b = torch.zeros(3, dtype=torch.long)
    snap = StateSnapshot([('a', a), ('b', b)])
    ptr = a.data_ptr()
    a.add_(1.0)
    b.fill_(7)
    assert not snap.matches()
    snap.restore()
    assert snap.matches() and a.data_ptr() == ptr
    assert b.tolist() == [0, 0, 0]


def test_after_100_episodes_the_state_is_bitwise_the_source_state():
    model = MODELS.build(tiny_model_cfg(relation=True))
    source = {k: v.clone() for k, v in model.state_dict().items()}
    adapter = ADAPTERS.build(dict(
        type='S4TAdapter', optimizer=dict(type='SGD', lr=0.05,
                                          momentum=0.9))).bind(model)
    inputs = model.data_preprocessor(synthetic_batch())['inputs']
    for _ in range(100):
        adapter.reset()
        adapter.adapt(inputs, steps=1)
    assert any(not torch.equal(source[k], v)
               for k, v in model.state_dict().items())
    adapter.reset()
    for k, v in model.state_dict().items():
        assert torch.equal(source[k], v), k
    assert adapter.optimizer.state == {}


def test_non_finite_step_is_undone_and_counted():
    model = MODELS.build(tiny_model_cfg(relation=True))
    adapter = ADAPTERS.build(dict(
        type='S4TAdapter', loss_weight=1.0,
        optimizer=dict(type='SGD', lr=float('inf')))).bind(model)
    inputs = model.data_preprocessor(synthetic_batch())['inputs']
    params_before = [p.clone() for _, p in adapter.adapted]
    adapter.adapt(inputs, steps=2)
    # each step makes the parameters infinite and is undone at once, back
    # to the source state (no step was good)
    assert adapter.stats['undone_non_finite_params'] == 2
    assert adapter.stats['restored_source'] == 2
    assert adapter.stats['steps'] == 0
    for before, (_, p) in zip(params_before, adapter.adapted):
        assert torch.equal(before, p)


def test_batch_of_one_uses_source_statistics_with_a_warning(caplog):
    model = MODELS.build(tiny_model_cfg(relation=True))
    adapter = ADAPTERS.build(dict(type='S4TAdapter')).bind(model)
    bn = model.backbone.stem[1]
    running_mean = bn.running_mean.clone()
    inputs = model.data_preprocessor(synthetic_batch(n=1))['inputs']
    adapter.adapt(inputs, steps=1)
    assert torch.equal(bn.running_mean, running_mean)  # eval-mode BN
    assert adapter.stats['single_image_batches'] == 1
    assert adapter.stats['steps'] == 1


def test_unknown_amp_and_fp16_on_cpu_are_rejected():
    with pytest.raises(ValueError, match='valid: None, bf16, fp16'):
        ADAPTERS.build(dict(type='S4TAdapter', amp='int8'))
    model = MODELS.build(tiny_model_cfg(relation=True))
    adapter = ADAPTERS.build(dict(type='S4TAdapter', amp='fp16')).bind(model)
    inputs = model.data_preprocessor(synthetic_batch())['inputs']
    with pytest.raises(ValueError, match="amp='fp16' needs a CUDA device"):
        adapter.adapt(inputs, steps=1)


def test_bf16_adaptation_runs_and_moves_parameters():
    model = MODELS.build(tiny_model_cfg(relation=True))
    adapter = ADAPTERS.build(dict(type='S4TAdapter', amp='bf16',
                                  optimizer=dict(type='SGD', lr=0.1))
                             ).bind(model)
    before = [p.clone() for _, p in adapter.adapted]
    inputs = model.data_preprocessor(synthetic_batch())['inputs']
    adapter.adapt(inputs, steps=1)
    assert any(not torch.equal(b, p) for b, (_, p) in zip(before,
                                                          adapter.adapted))
    assert all(p.dtype == torch.float32 for _, p in adapter.adapted)


def test_channels_last_gives_the_same_adaptation():
    inputs = None
    params = []
    for channels_last in (False, True):
        torch.manual_seed(0)
        model = MODELS.build(tiny_model_cfg(relation=True))
        adapter = ADAPTERS.build(dict(
            type='S4TAdapter', channels_last=channels_last,
            optimizer=dict(type='SGD', lr=0.05))).bind(model)
        if inputs is None:
            inputs = model.data_preprocessor(synthetic_batch())['inputs']
        adapter.adapt(inputs, steps=2, seed=3)
        conv = model.backbone.stem[0].weight
        assert conv.is_contiguous(memory_format=torch.channels_last) == \
            channels_last
        params.append(torch.cat([p.detach().flatten()
                                 for _, p in adapter.adapted]))
        adapter.reset()
    torch.testing.assert_close(params[0], params[1], rtol=1e-4, atol=1e-5)


def test_keep_or_restore_keeps_or_writes_back_every_kind_of_tensor():
    weight = torch.randn(3, 4)
    counter = torch.tensor(7)  # an int64 buffer, 0-dim
    conv = torch.randn(2, 3, 4, 5).contiguous(
        memory_format=torch.channels_last)
    snapshot = StateSnapshot([('w', weight), ('n', counter), ('c', conv)])
    weight.add_(1)
    counter.add_(1)
    conv.mul_(2)
    kept = [t.clone() for t in (weight, counter, conv)]
    snapshot.keep_or_restore(torch.tensor(True))
    assert all(torch.equal(snapshot.saved()[k], v)
               for k, v in zip('wnc', kept))
    weight.fill_(float('nan'))
    counter.fill_(-1)
    conv.fill_(float('inf'))
    snapshot.keep_or_restore(torch.tensor(False))
    for live, value in zip((weight, counter, conv), kept):
        assert torch.equal(live, value)
    assert conv.is_contiguous(memory_format=torch.channels_last)
