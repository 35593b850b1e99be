"""When to reset and when to adapt, as a test loop walks a target stream."""
from typing import Iterator

import torch
from torch.utils.data import DataLoader

from s4t_mm.registry import TASK_UTILS
from s4t_mm.utils import check_config_keys


class AdaptationProtocol:
    """Base of the protocols; ``steps`` adaptation steps per adapted batch,
    fixed in the config (never chosen with test labels).

    ``hook`` is the :class:`TestTimeAdaptHook` that drives the protocol: it
    provides ``hook.adapter`` and ``hook.unlabeled_inputs(data_batch)``.
    """

    def __init__(self, steps: int = 1):
        if steps < 0:
            raise ValueError(f'steps must be >= 0, got {steps}')
        self.steps = steps

    def before_domain(self, hook, runner) -> None:
        """Called once before a target domain's test loop starts."""

    def before_batch(self, hook, batch_idx: int, data_batch: dict) -> None:
        """Called before each target batch is predicted."""


@TASK_UTILS.register_module(name='episodic')
class EpisodicProtocol(AdaptationProtocol):
    """Every batch: reset to the source state, adapt ``steps`` steps on it,
    predict it. Batches never influence each other."""

    def before_batch(self, hook, batch_idx, data_batch):
        hook.adapter.reset()
        hook.adapter.adapt(hook.unlabeled_inputs(data_batch), self.steps,
                           seed=hook.batch_seed(data_batch, batch_idx))


@TASK_UTILS.register_module(name='online')
class OnlineProtocol(AdaptationProtocol):
    """No reset: adapt on each batch, predict it, carry the state on, also
    into the next target domain unless ``reset_each_domain``."""

    def __init__(self, steps: int = 1, reset_each_domain: bool = False):
        super().__init__(steps)
        self.reset_each_domain = reset_each_domain

    def before_domain(self, hook, runner):
        if self.reset_each_domain:
            hook.adapter.reset()

    def before_batch(self, hook, batch_idx, data_batch):
        hook.adapter.adapt(hook.unlabeled_inputs(data_batch), self.steps,
                           seed=hook.batch_seed(data_batch, batch_idx))


@TASK_UTILS.register_module(name='reset_every')
class ResetEveryProtocol(OnlineProtocol):
    """Online adaptation with a reset to the source state every ``interval``
    batches (and at the start of each domain)."""

    def __init__(self, interval: int, steps: int = 1):
        super().__init__(steps, reset_each_domain=True)
        if interval < 1:
            raise ValueError(f'interval must be >= 1, got {interval}')
        self.interval = interval

    def before_batch(self, hook, batch_idx, data_batch):
        if batch_idx > 0 and batch_idx % self.interval == 0:
            hook.adapter.reset()
        super().before_batch(hook, batch_idx, data_batch)


@TASK_UTILS.register_module(name='paper')
class PaperProtocol(AdaptationProtocol):
    """The S4T paper's protocol: reset, adapt ``steps`` steps on each of the
    first ``num_batches`` batches of the target set, then evaluate the whole
    target set once with the adapted weights.

    ``shuffle=False`` takes the batches in dataset order, as the reference
    does (it adapts on the first batch of its unshuffled test loader), so a
    result depends on the dataset's order; ``shuffle=True`` draws them from a
    shuffle seeded with ``seed``, so several seeds give a spread of results
    over different adaptation batches (the multi-seed studies).

    Every rank of a distributed run draws the same batches (same order or
    seed) and the hook then broadcasts rank 0's adapted state, so all ranks
    evaluate identical weights.

    Args:
        steps: adaptation steps per batch (reference: 40).
        num_batches: unlabeled target batches to adapt on (reference: 1).
        batch_size: of those batches; default the test loader's.
        shuffle: draw the batches from a seeded shuffle (True) or take the
            first ones in dataset order (False, the reference's choice).
        seed: of the shuffle; unused when ``shuffle=False``.
    """

    def __init__(self, steps: int = 40, num_batches: int = 1,
                 batch_size: int = None, shuffle: bool = True,
                 seed: int = 0):
        super().__init__(steps)
        if num_batches < 1:
            raise ValueError(f'num_batches must be >= 1, got {num_batches}')
        if not isinstance(shuffle, bool):
            raise TypeError(f'shuffle must be True or False, got '
                            f'{shuffle!r}')
        self.num_batches = num_batches
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed

    def adaptation_batches(self, dataloader: DataLoader) -> Iterator[dict]:
        if len(dataloader.dataset) == 0:
            raise ValueError('the target set is empty: the paper protocol '
                             'has no batch to adapt on')
        generator = torch.Generator().manual_seed(self.seed) \
            if self.shuffle else None
        loader = DataLoader(
            dataloader.dataset,
            batch_size=self.batch_size or dataloader.batch_size,
            shuffle=self.shuffle,
            generator=generator,
            collate_fn=dataloader.collate_fn,
            num_workers=0)
        for i, batch in enumerate(loader):
            if i == self.num_batches:
                return
            yield batch

    def before_domain(self, hook, runner):
        hook.adapter.reset()
        for i, batch in enumerate(
                self.adaptation_batches(runner.test_dataloader)):
            hook.adapter.adapt(hook.unlabeled_inputs(batch), self.steps,
                               seed=hook.batch_seed(batch, i))
        hook.broadcast_adapted_state()


PROTOCOLS = ('paper', 'episodic', 'online', 'reset_every')


def build_protocol(cfg) -> AdaptationProtocol:
    """Build from ``dict(type='episodic', steps=...)`` or a bare name."""
    cfg = dict(type=cfg) if isinstance(cfg, str) else dict(cfg)
    if cfg.get('type') not in PROTOCOLS:
        raise ValueError(f'unknown protocol {cfg.get("type")!r}; valid: '
                         f'{", ".join(PROTOCOLS)}')
    check_config_keys(TASK_UTILS.get(cfg['type']), cfg, 'protocol')
    # explicit scope: the hook may be built inside a plain mmseg config
    cfg['_scope_'] = 's4t_mm'
    return TASK_UTILS.build(cfg)
