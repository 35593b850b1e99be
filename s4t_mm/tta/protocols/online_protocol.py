"""Adapt on every batch and carry the state on."""
from s4t_mm.registry import PROTOCOLS
from .base_protocol import AdaptationProtocol


@PROTOCOLS.register_module(name='online')
class OnlineProtocol(AdaptationProtocol):
    """No reset: adapt on each batch, predict it, carry the state on, also
    into the next target domain unless ``reset_each_domain``."""

    def __init__(self, steps: int = 1, reset_each_domain: bool = False):
        super().__init__(steps)
        self.reset_each_domain = reset_each_domain

    @property
    def carries_state_across_domains(self) -> bool:
        return not self.reset_each_domain

    def before_domain(self, adapter, unlabeled, dataloader):
        if self.reset_each_domain:
            adapter.reset()

    def before_batch(self, adapter, unlabeled, batch_idx, data_batch):
        self.adapt_on(adapter, unlabeled, batch_idx, data_batch)
