"""Reset before every batch."""
from s4t_mm.registry import PROTOCOLS
from .base_protocol import AdaptationProtocol


@PROTOCOLS.register_module(name='episodic')
class EpisodicProtocol(AdaptationProtocol):
    """Every batch: reset to the source state, adapt ``steps`` steps on it,
    predict it. Batches never influence each other."""

    def before_batch(self, adapter, unlabeled, batch_idx, data_batch):
        adapter.reset()
        self.adapt_on(adapter, unlabeled, batch_idx, data_batch)
