"""Normalisation policies: built by name or config, batch statistics move
and source statistics stay, and BaseAdapter calls the four hooks in their
documented order."""
import pytest
import torch
import torch.nn as nn

from s4t_mm.registry import ADAPTERS, NORM_POLICIES
from s4t_mm.tta.adapters import BaseAdapter
from s4t_mm.tta.norm_policies import (BaseNormPolicy, BatchStatsPolicy,
                                      SourceStatsPolicy, build_norm_policy)

# two images of one channel, 1x2 pixels: mean 3, unbiased variance 14/3
BATCH = torch.tensor([[[[1.0, 2.0]]], [[[3.0, 6.0]]]])


class TinyBN(nn.Sequential):
    """BatchNorm (momentum 1: the running statistics become the batch's)
    then a 1x1 convolution."""

    def __init__(self):
        super().__init__(nn.BatchNorm2d(1, momentum=1.0), nn.Conv2d(1, 1, 1))


class SquaredOutputAdapter(BaseAdapter):
    """Minimise the mean squared output, moving the convolution only."""

    def select_parameters(self, model):
        return [('1.weight', model[1].weight)]

    def objective(self, model, inputs):
        return {'out': model(inputs).square().mean()}


def _adapter(norm_policy, lr=0.0):
    torch.manual_seed(0)
    model = TinyBN().eval()
    adapter = SquaredOutputAdapter(norm_policy=norm_policy,
                                   optimizer=dict(type='SGD', lr=lr))
    return adapter.bind(model), model


def test_built_by_name_or_config():
    batch = build_norm_policy('batch_stats')
    source = build_norm_policy(dict(type='source_stats'))
    assert type(batch) is BatchStatsPolicy and batch.name == 'batch_stats'
    assert type(source) is SourceStatsPolicy and str(source) == 'source_stats'
    assert batch.uses_batch_statistics and batch.adapts_statistics
    assert not source.uses_batch_statistics and not source.adapts_statistics
    adapter = ADAPTERS.build(dict(type='TentAdapter',
                                  norm_policy=dict(type='source_stats')))
    assert isinstance(adapter.norm_policy, SourceStatsPolicy)


def test_unknown_policies_and_keys_name_the_valid_ones():
    with pytest.raises(ValueError, match="unknown norm_policy 'frozen'; "
                       'valid: batch_stats, source_stats'):
        build_norm_policy('frozen')
    with pytest.raises(ValueError, match="unknown norm_policy None"):
        build_norm_policy(dict(momentum=0.1))
    with pytest.raises(ValueError, match=r"unknown norm_policy key\(s\) "
                       r"\['momentum'\] for BatchStatsPolicy"):
        build_norm_policy(dict(type='batch_stats', momentum=0.1))
    with pytest.raises(ValueError, match="unknown norm_policy 'frozen'"):
        ADAPTERS.build(dict(type='TentAdapter', norm_policy='frozen'))


def test_batch_statistics_move_and_source_statistics_stay():
    adapter, model = _adapter('batch_stats')
    adapter.adapt(BATCH, steps=1)
    bn = model[0]
    assert bn.running_mean.tolist() == [3.0]
    torch.testing.assert_close(bn.running_var, torch.tensor([14 / 3]))
    assert not model.training  # the mode before adapt() is back
    adapter.reset()
    assert bn.running_mean.tolist() == [0.0]
    assert bn.running_var.tolist() == [1.0]

    adapter, model = _adapter('source_stats', lr=0.1)
    weight = model[1].weight.detach().clone()
    adapter.adapt(BATCH, steps=2)
    assert model[0].running_mean.tolist() == [0.0]
    assert model[0].running_var.tolist() == [1.0]
    assert int(model[0].num_batches_tracked) == 0
    assert not torch.equal(model[1].weight, weight)  # the step still moved


def test_one_image_keeps_source_statistics_only_under_batch_statistics():
    one = BATCH[:1]
    adapter, model = _adapter('batch_stats')
    adapter.adapt(one, steps=1)
    assert model[0].running_mean.tolist() == [0.0]
    assert adapter.stats['single_image_batches'] == 1
    adapter, model = _adapter('source_stats')
    adapter.adapt(one, steps=1)
    assert adapter.stats['single_image_batches'] == 0


class RecordingPolicy(BaseNormPolicy):
    """Records the hooks and what the model looks like at each; its
    ``before_steps`` writes the statistics, as an estimating policy
    does."""

    adapts_statistics = True

    def __init__(self, mean: float = 5.0):
        super().__init__()
        self.mean = mean
        self.calls = []
        self.model = None

    def bind(self, model):
        self.model = model
        self.calls.append(('bind', model[0].running_mean.item()))

    def set_mode(self, model):
        model.eval()
        self.calls.append(('set_mode', model.training))

    def before_steps(self, model, inputs):
        model[0].running_mean.fill_(self.mean)
        self.calls.append(('before_steps', torch.is_grad_enabled(),
                           inputs.shape[0], model.training))

    def reset(self):
        self.calls.append(('reset', self.model[0].running_mean.item()))


@pytest.fixture
def recording():
    NORM_POLICIES.register_module(name='recording', module=RecordingPolicy)
    yield
    NORM_POLICIES.module_dict.pop('recording')


def test_bn_adapt_takes_any_policy_that_adapts_statistics(recording):
    adapter = ADAPTERS.build(dict(type='NormStatsAdapter'))
    assert adapter.norm_policy.name == 'batch_stats'
    adapter = ADAPTERS.build(dict(type='NormStatsAdapter',
                                  norm_policy='recording'))
    assert isinstance(adapter.norm_policy, RecordingPolicy)
    with pytest.raises(ValueError, match='NormStatsAdapter needs a '
                       'norm_policy that adapts statistics, got '
                       "'source_stats'; valid: batch_stats"):
        ADAPTERS.build(dict(type='NormStatsAdapter',
                            norm_policy='source_stats'))


def test_adapter_calls_the_hooks_in_order(recording):
    adapter, model = _adapter(dict(type='recording', mean=2.0), lr=0.1)
    policy = adapter.norm_policy
    assert isinstance(policy, RecordingPolicy) and policy.name == 'recording'
    adapter.register_step_callback(
        before=lambda a: policy.calls.append(
            ('step', model[0].running_mean.item())))
    adapter.adapt(BATCH, steps=2)
    adapter.adapt(BATCH, steps=0)  # no step: no estimate
    adapter.reset()
    assert policy.calls == [
        ('bind', 0.0),
        ('set_mode', False), ('before_steps', False, 2, False),
        ('step', 2.0), ('step', 2.0),  # the steps use what it wrote
        ('set_mode', False),
        ('reset', 0.0),  # after the source statistics are restored
    ]
    assert adapter.stats['steps'] == 2
