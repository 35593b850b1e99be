from .batch_shard_sampler import BatchShardSampler

__all__ = ['BatchShardSampler']
