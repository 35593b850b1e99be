"""Protocols are registered components that see an adapter and a function
giving unlabeled inputs, never the hook or labels."""
import pytest
import torch

from s4t_mm.registry import HOOKS, PROTOCOLS
from s4t_mm.tta.protocols import AdaptationProtocol, build_protocol


class RecordingAdapter:
    """Stands in for a bound adapter: records what a protocol asks."""

    def __init__(self):
        self.calls = []

    def reset(self):
        self.calls.append('reset')

    def adapt(self, inputs, steps, seed=None):
        self.calls.append(('adapt', inputs.shape[0], steps, seed))


def unlabeled(data_batch, batch_idx):
    return torch.zeros(data_batch['n'], 3, 4, 4), 100 + batch_idx


def _walk(protocol, batches):
    adapter = RecordingAdapter()
    protocol.before_domain(adapter, unlabeled, None)
    for i, batch in enumerate(batches):
        protocol.before_batch(adapter, unlabeled, i, batch)
    return adapter.calls


def test_every_protocol_is_registered_where_it_is_defined():
    assert list(PROTOCOLS.module_dict) == ['paper', 'episodic', 'online',
                                           'reset_every']
    for name, cls in PROTOCOLS.module_dict.items():
        assert issubclass(cls, AdaptationProtocol)
        assert cls.__module__ == f's4t_mm.tta.protocols.{name}_protocol'


def test_protocols_call_the_adapter_with_the_unlabeled_inputs():
    batches = [dict(n=2)] * 3
    assert _walk(build_protocol(dict(type='episodic', steps=2)),
                 batches) == ['reset', ('adapt', 2, 2, 100)] + [
                     'reset', ('adapt', 2, 2, 101)] + [
                         'reset', ('adapt', 2, 2, 102)]
    assert _walk(build_protocol(dict(type='reset_every', interval=2)),
                 batches) == ['reset', ('adapt', 2, 1, 100),
                              ('adapt', 2, 1, 101), 'reset',
                              ('adapt', 2, 1, 102)]
    assert _walk(build_protocol('online'), batches) == [
        ('adapt', 2, 1, 100 + i) for i in range(3)]


def test_a_new_protocol_plugs_into_the_hook_by_name():
    @PROTOCOLS.register_module(name='every_other', force=True)
    class EveryOtherProtocol(AdaptationProtocol):
        def before_batch(self, adapter, unlabeled, batch_idx, data_batch):
            if batch_idx % 2 == 0:
                self.adapt_on(adapter, unlabeled, batch_idx, data_batch)

    try:
        hook = HOOKS.build(dict(type='TestTimeAdaptHook',
                                adapter=dict(type='TentAdapter'),
                                protocol=dict(type='every_other', steps=3)))
        assert isinstance(hook.protocol, EveryOtherProtocol)
        assert _walk(hook.protocol, [dict(n=1)] * 3) == [
            ('adapt', 1, 3, 100), ('adapt', 1, 3, 102)]
    finally:
        PROTOCOLS.module_dict.pop('every_other')
    with pytest.raises(ValueError, match="unknown protocol 'every_other'"):
        build_protocol('every_other')
