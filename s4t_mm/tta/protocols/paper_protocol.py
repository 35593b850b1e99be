"""The S4T paper's protocol: adapt on the first batches, then evaluate."""
from typing import Iterator, Optional

import torch
from torch.utils.data import DataLoader

from s4t_mm.registry import PROTOCOLS
from .base_protocol import AdaptationProtocol, broadcast_adapted_state


@PROTOCOLS.register_module(name='paper')
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
    seed) and rank 0's adapted state is then broadcast, so all ranks
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
                 batch_size: Optional[int] = None, shuffle: bool = True,
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

    def before_domain(self, adapter, unlabeled, dataloader):
        adapter.reset()
        for i, batch in enumerate(self.adaptation_batches(dataloader)):
            self.adapt_on(adapter, unlabeled, i, batch)
        broadcast_adapted_state(adapter)
