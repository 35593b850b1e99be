"""BatchShardSampler: every rank gets whole one-process batches."""
import pytest
from mmengine.dataset import DefaultSampler

import mmengine.dataset.sampler as mmengine_sampler
from s4t_mm.datasets import BatchShardSampler


def _on_rank(monkeypatch, rank, world_size, **kwargs):
    monkeypatch.setattr(mmengine_sampler, 'get_dist_info',
                        lambda: (rank, world_size))
    return BatchShardSampler(**kwargs)


def _batches(indices, batch_size):
    return [indices[i:i + batch_size]
            for i in range(0, len(indices), batch_size)]


@pytest.mark.parametrize('shuffle', [False, True])
@pytest.mark.parametrize('n,batch_size,world_size', [
    (10, 3, 2), (8, 3, 2), (7, 2, 3), (5, 4, 2), (3, 2, 4)])
def test_ranks_form_the_one_process_batches(monkeypatch, n, batch_size,
                                             world_size, shuffle):
    dataset = list(range(n))
    one = _on_rank(monkeypatch, 0, 1, dataset=dataset,
                   batch_size=batch_size, shuffle=shuffle, seed=7)
    order = list(one)
    # world size 1: DefaultSampler's order, shuffle included
    monkeypatch.setattr(mmengine_sampler, 'get_dist_info', lambda: (0, 1))
    assert order == list(DefaultSampler(dataset, shuffle=shuffle, seed=7))
    expected = _batches(order, batch_size)
    got = {}
    for rank in range(world_size):
        sampler = _on_rank(monkeypatch, rank, world_size, dataset=dataset,
                           batch_size=batch_size, shuffle=shuffle, seed=7)
        indices = list(sampler)
        assert len(sampler) == len(indices)
        for k, batch in enumerate(_batches(indices, batch_size)):
            got[rank + k * world_size] = batch
    assert [got[i] for i in sorted(got)] == expected
    assert sorted(i for b in got.values() for i in b) == list(range(n))


def test_eight_samples_batch_three_two_ranks(monkeypatch):
    kwargs = dict(dataset=list(range(8)), batch_size=3)
    assert list(_on_rank(monkeypatch, 0, 2, **kwargs)) == [0, 1, 2, 6, 7]
    assert list(_on_rank(monkeypatch, 1, 2, **kwargs)) == [3, 4, 5]


@pytest.mark.parametrize('batch_size', [0, 2.5, None])
def test_bad_batch_size(monkeypatch, batch_size):
    with pytest.raises(ValueError, match='batch_size must be a positive'):
        _on_rank(monkeypatch, 0, 1, dataset=[0, 1], batch_size=batch_size)
