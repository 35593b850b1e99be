"""A distributed sampler that hands whole batches to the ranks."""
import math
from typing import Iterator, Optional

import torch
from mmengine.dataset import DefaultSampler

from s4t_mm.registry import DATA_SAMPLERS


@DATA_SAMPLERS.register_module()
class BatchShardSampler(DefaultSampler):
    """Like :class:`mmengine.dataset.DefaultSampler` (same order, same
    seeded shuffle), but the ranks receive whole batches of the
    single-process order instead of interleaved samples.

    Test-time adaptation adapts on each test batch, and BatchNorm's batch
    statistics depend on which images share a batch; ``DefaultSampler`` on N
    ranks gives rank r the samples r, r+N, ..., so every batch, and every
    result, changes with N. Here the one-process order is cut into batches
    of ``batch_size`` and rank r takes batches r, r+N, ...; a loader with
    the same ``batch_size`` then forms exactly the one-process batches. No
    sample is repeated to even out the ranks (mmengine's result collection
    takes parts of unequal length), so a metric sees each sample once.

    Args:
        dataset: the dataset.
        batch_size: of the dataloader this sampler feeds.
        shuffle: shuffle the order, as ``DefaultSampler`` does.
        seed: of the shuffle; shared across ranks when None.
    """

    def __init__(self, dataset, batch_size: int, shuffle: bool = False,
                 seed: Optional[int] = None):
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f'batch_size must be a positive int, got '
                             f'{batch_size!r}')
        super().__init__(dataset, shuffle=shuffle, seed=seed,
                         round_up=False)
        self.batch_size = batch_size
        num_batches = math.ceil(len(dataset) / batch_size)
        own = range(self.rank, num_batches, self.world_size)
        self.num_samples = sum(
            min(batch_size, len(dataset) - b * batch_size) for b in own)
        self.total_size = len(dataset)

    def __iter__(self) -> Iterator[int]:
        if self.shuffle:
            generator = torch.Generator()
            generator.manual_seed(self.seed + self.epoch)
            order = torch.randperm(len(self.dataset),
                                   generator=generator).tolist()
        else:
            order = list(range(len(self.dataset)))
        step = self.batch_size * self.world_size
        start = self.rank * self.batch_size
        return iter([i for first in range(start, len(order), step)
                     for i in order[first:first + self.batch_size]])
