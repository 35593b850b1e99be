"""Online adaptation with periodic resets."""
from s4t_mm.registry import PROTOCOLS
from .online_protocol import OnlineProtocol


@PROTOCOLS.register_module(name='reset_every')
class ResetEveryProtocol(OnlineProtocol):
    """Online adaptation with a reset to the source state every ``interval``
    batches (and at the start of each domain)."""

    def __init__(self, interval: int, steps: int = 1):
        super().__init__(steps, reset_each_domain=True)
        if interval < 1:
            raise ValueError(f'interval must be >= 1, got {interval}')
        self.interval = interval

    def before_batch(self, adapter, unlabeled, batch_idx, data_batch):
        if batch_idx > 0 and batch_idx % self.interval == 0:
            adapter.reset()
        super().before_batch(adapter, unlabeled, batch_idx, data_batch)
