"""Protocol semantics and the label guard of TestTimeAdaptHook."""
from types import SimpleNamespace

import pytest
import torch
from mmengine.dataset import pseudo_collate
from torch.utils.data import DataLoader

from s4t_mm.registry import HOOKS, MODELS
from ..test_models.utils import synthetic_batch, tiny_model_cfg

SGD = dict(type='SGD', lr=0.05)


class _ListDataset(torch.utils.data.Dataset):

    def __init__(self, batch):
        self.items = [dict(inputs=i, data_samples=s) for i, s in zip(
            batch['inputs'], batch['data_samples'])]

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        return self.items[i]


def _setup(protocol, n=4):
    model = MODELS.build(tiny_model_cfg(relation=True))
    batch = synthetic_batch(n=n)
    loader = DataLoader(_ListDataset(batch), batch_size=2,
                        collate_fn=pseudo_collate)
    runner = SimpleNamespace(model=model, test_dataloader=loader)
    hook = HOOKS.build(dict(type='TestTimeAdaptHook',
                            adapter=dict(type='S4TAdapter', optimizer=SGD),
                            protocol=protocol))
    return model, runner, hook, list(loader)


def _params(model):
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def test_episodic_starts_every_batch_from_the_source_state():
    model, runner, hook, batches = _setup(dict(type='episodic', steps=2))
    model.load_state_dict(_reference_state())
    hook.before_test(runner)
    after = []
    for i, b in enumerate(batches):
        hook.before_test_iter(runner, i, b)
        after.append(_params(model))
    assert not torch.equal(after[0], after[1])
    assert hook.adapter.stats['resets'] == 2
    # batch 1 in the stream ends where batch 1 adapted alone ends
    alone_model, alone_runner, alone_hook, _ = _setup(
        dict(type='episodic', steps=2))
    alone_model.load_state_dict(_reference_state())
    alone_hook.before_test(alone_runner)
    torch.manual_seed(101)  # unrelated global state: masks are per batch
    alone_hook.before_test_iter(alone_runner, 0, batches[1])
    assert torch.equal(_params(alone_model), after[1])


def test_online_carries_the_state_across_batches_and_domains():
    model, runner, hook, batches = _setup(dict(type='online', steps=1))
    source = _params(model)
    hook.before_test(runner)
    hook.before_test_iter(runner, 0, batches[0])
    first = _params(model)
    hook.before_test_iter(runner, 1, batches[1])
    second = _params(model)
    assert not torch.equal(first, source)
    assert not torch.equal(second, first)
    hook.before_test(runner)  # next domain: no reset
    assert torch.equal(_params(model), second)
    assert hook.adapter.stats['resets'] == 0


def test_reset_every_interval():
    model, runner, hook, batches = _setup(
        dict(type='reset_every', interval=2, steps=1), n=8)
    hook.before_test(runner)
    for i, b in enumerate(batches):
        hook.before_test_iter(runner, i, b)
    # one reset at the domain start, one before batch 2
    assert hook.adapter.stats['resets'] == 2
    assert hook.adapter.stats['steps'] == 4


def test_paper_protocol_adapts_before_the_loop_and_not_during_it():
    model, runner, hook, batches = _setup(
        dict(type='paper', steps=3, num_batches=1, seed=0))
    source = _params(model)
    hook.before_test(runner)
    adapted = _params(model)
    assert not torch.equal(adapted, source)
    assert hook.adapter.stats['steps'] == 3
    hook.before_test_iter(runner, 0, batches[0])
    assert torch.equal(_params(model), adapted)


def test_labels_never_reach_adaptation():
    """Same images, other or no ground truth: bitwise the same weights."""
    results = []
    for variant in ('original', 'changed', 'missing'):
        torch.manual_seed(0)
        model, runner, hook, batches = _setup(dict(type='online', steps=2))
        model.load_state_dict(_reference_state())
        for b in batches:
            for s in b['data_samples']:
                if variant == 'changed':
                    for task in s.gt_tasks:
                        s.get('gt_' + task).data = \
                            torch.zeros_like(s.gt(task))
                elif variant == 'missing':
                    for task in s.gt_tasks:
                        delattr(s, 'gt_' + task)
        torch.manual_seed(1)
        hook.before_test(runner)
        for i, b in enumerate(batches):
            hook.before_test_iter(runner, i, b)
        results.append(_params(model))
    assert torch.equal(results[0], results[1])
    assert torch.equal(results[0], results[2])


_STATE = {}


def _reference_state():
    if not _STATE:
        torch.manual_seed(42)
        _STATE.update(MODELS.build(tiny_model_cfg(relation=True)).state_dict())
    return _STATE


def test_unknown_protocol_names_the_valid_ones():
    with pytest.raises(ValueError, match='valid: paper, episodic, online, '
                       'reset_every'):
        HOOKS.build(dict(type='TestTimeAdaptHook',
                         adapter=dict(type='S4TAdapter'),
                         protocol='continual'))
