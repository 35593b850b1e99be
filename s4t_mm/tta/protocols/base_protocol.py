"""When to reset and when to adapt, as something walks a target stream."""
from typing import Callable, Dict, Optional, Tuple, Union

import torch
import torch.distributed as dist
from torch.utils.data import DataLoader

from s4t_mm.registry import PROTOCOLS
from s4t_mm.utils import build_checked

#: Turns target batch ``batch_idx`` into what an adapter may see: its
#: unlabeled, preprocessed images ``(N, C, H, W)`` and the seed of the
#: adaptation's random draws on it (None: torch's global generator).
UnlabeledFn = Callable[[dict, int], Tuple[torch.Tensor, Optional[int]]]


class AdaptationProtocol:
    """Base of the protocols; ``steps`` adaptation steps per adapted batch,
    fixed in the config (never chosen with test labels).

    A protocol sees the adapter (bound to the model) and a function
    ``unlabeled(data_batch, batch_idx) -> (inputs, seed)``
    (:data:`UnlabeledFn`), never labels. Whatever walks a target domain
    calls it so::

        adapter.begin_domain()
        protocol.before_domain(adapter, unlabeled, dataloader)
        for batch_idx, data_batch in enumerate(dataloader):
            protocol.before_batch(adapter, unlabeled, batch_idx, data_batch)
            ...  # predict data_batch with the adapted model

    :class:`~s4t_mm.tta.session.AdaptationSession` does it for every
    caller (the test-time adaptation loop, the hook of plain test loops,
    the inferencer, the analysis tools).
    A new protocol subclasses this class and registers itself in
    :data:`~s4t_mm.registry.PROTOCOLS` under the name configs use.
    """

    def __init__(self, steps: int = 1):
        if steps < 0:
            raise ValueError(f'steps must be >= 0, got {steps}')
        self.steps = steps

    @property
    def carries_state_across_domains(self) -> bool:
        """Whether the adapted state of one domain is where the next domain
        starts, so a domain's result depends on the domains before it."""
        return False

    def before_domain(self, adapter, unlabeled: UnlabeledFn,
                      dataloader: DataLoader) -> None:
        """Called once before a target domain's batches are predicted;
        ``dataloader`` yields that domain's batches (None when the caller
        has none; protocols that adapt here need it)."""

    def before_batch(self, adapter, unlabeled: UnlabeledFn, batch_idx: int,
                     data_batch: dict) -> None:
        """Called before each target batch is predicted."""

    def adapt_on(self, adapter, unlabeled: UnlabeledFn, batch_idx: int,
                 data_batch: dict) -> None:
        """``steps`` adaptation steps on one batch."""
        inputs, seed = unlabeled(data_batch, batch_idx)
        adapter.adapt(inputs, self.steps, seed=seed)


def broadcast_adapted_state(adapter) -> None:
    """Give every rank rank 0's adapted parameters and buffers (those the
    adapter snapshots); a no-op in a single process."""
    if dist.is_available() and dist.is_initialized() and \
            dist.get_world_size() > 1:
        for tensor in adapter.snapshot.tensors:
            dist.broadcast(tensor.data, src=0)


#: The protocol of a config that names none: reset before every batch and
#: adapt one step on it.
DEFAULT_PROTOCOL = dict(type='episodic', steps=1)


def protocol_config(cfg: Union[str, dict, None] = None,
                    defaults: Optional[Dict[str, dict]] = None) -> dict:
    """The one normal form of a protocol config, ``dict(type=name, ...)``:
    None gives :data:`DEFAULT_PROTOCOL`, a bare name ``dict(type=name)``.
    ``defaults`` maps a protocol name to keys filled in where the config
    leaves them unset (the inferencer takes the paper protocol's batches in
    input order: ``dict(paper=dict(shuffle=False))``)."""
    if cfg is None:
        cfg = DEFAULT_PROTOCOL
    cfg = dict(type=cfg) if isinstance(cfg, str) else dict(cfg)
    for key, value in (defaults or {}).get(cfg.get('type'), {}).items():
        cfg.setdefault(key, value)
    return cfg


def build_protocol(cfg: Union[str, dict, None] = None,
                   defaults: Optional[Dict[str, dict]] = None
                   ) -> AdaptationProtocol:
    """Build from ``dict(type='episodic', steps=...)``, a bare name or None
    (:func:`protocol_config`); the only place a protocol is built."""
    return build_checked(PROTOCOLS, protocol_config(cfg, defaults),
                         'protocol')
