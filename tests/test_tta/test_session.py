"""AdaptationSession: the one seed rule, one preprocessing per adapted
batch, no label reaching the adapter, and the report of a domain."""
import copy
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from mmengine.dataset import pseudo_collate
from mmengine.runner import Runner
from torch.utils.data import DataLoader

from s4t_mm.apis import MultiTaskInferencer
from s4t_mm.registry import HOOKS, MODELS
from s4t_mm.tta.session import AdaptationSession
from ..test_models.utils import synthetic_batch, tiny_model_cfg
from .tiny_runner import save_tiny_checkpoint, tiny_tta_cfg

SGD = dict(type='SGD', lr=0.05)
S4T = dict(type='S4TAdapter', optimizer=SGD)


def _model(seed=42):
    torch.manual_seed(seed)
    return MODELS.build(tiny_model_cfg(relation=True))


def _recording(session):
    """The (inputs, steps, seed) of every ``adapt`` call of the session's
    adapter."""
    calls, adapt = [], session.adapter.adapt

    def record(inputs, steps, seed=None):
        calls.append((inputs, steps, seed))
        return adapt(inputs, steps, seed=seed)

    session.adapter.adapt = record
    return calls


def _counting(model):
    """The data samples of every call of the model's data preprocessor."""
    calls, forward = [], model.data_preprocessor.forward

    def count(data, training=False):
        calls.append(data.get('data_samples'))
        return forward(data, training)

    model.data_preprocessor.forward = count
    return calls


def test_the_seed_comes_from_the_sample_indices():
    session = AdaptationSession(S4T, seed=7)
    batch = synthetic_batch(n=2, seed=3)  # sample_idx 3000, 3001
    expected = int(np.random.SeedSequence([7, 3000, 3001]).generate_state(
        1)[0])
    assert session.batch_seed(batch, 0) == expected
    assert session.batch_seed(batch, 5) == expected  # not the position
    for s in batch['data_samples']:
        del s.sample_idx
    assert session.batch_seed(batch, 5) == int(
        np.random.SeedSequence([7, 5]).generate_state(1)[0])


def test_hook_and_inferencer_share_the_seed_rule(tmp_path):
    """The hook and the inferencer adapt a batch with the seed the session
    rule gives its sample indices (the inferencer's: the image indices)."""
    hook = HOOKS.build(dict(type='TestTimeAdaptHook', adapter=S4T,
                            protocol=dict(type='episodic', steps=1),
                            seed=5))
    assert isinstance(hook.session, AdaptationSession)
    model = _model()
    hook.before_test(SimpleNamespace(model=model))
    calls = _recording(hook.session)
    batch = synthetic_batch(n=2, seed=1)
    hook.before_test_iter(None, 0, batch)
    rule = AdaptationSession(S4T, seed=5).batch_seed
    assert calls[0][2] == rule(batch, 0)

    ckpt = save_tiny_checkpoint(tmp_path / 'tiny.pth')
    cfg = tiny_tta_cfg(tmp_path / 'work', tmp_path / 'cache')
    inferencer = MultiTaskInferencer(
        cfg, ckpt, device='cpu', adapter=S4T,
        protocol=dict(type='episodic', steps=1), seed=5, compare=False,
        show_progress=False)
    calls = _recording(inferencer.session)
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)
              for _ in range(4)]
    inferencer(images, batch_size=2)
    seeds = [c[2] for c in calls]
    indices = [[0, 1], [2, 3]]
    assert seeds == [int(np.random.SeedSequence([5] + ids).generate_state(
        1)[0]) for ids in indices]


def test_an_adapted_batch_is_preprocessed_once_and_scores_the_same(
        tmp_path):
    """An episodic run through the TestTimeAdaptLoop preprocesses each
    batch once (a plain TestLoop with the hook twice) and gives bitwise the
    same metrics and weights."""
    ckpt = save_tiny_checkpoint(tmp_path / 'tiny.pth')
    results = {}
    for loop in ('TestLoop', 'TestTimeAdaptLoop'):
        cfg = tiny_tta_cfg(tmp_path / loop, tmp_path / 'cache')
        hook = cfg.custom_hooks[0]
        hook['protocol'] = dict(type='episodic', steps=2)
        if loop == 'TestTimeAdaptLoop':
            cfg.custom_hooks = []
            cfg.test_cfg = dict(type=loop, domains=[dict(name='warm')],
                                adapter=hook['adapter'],
                                protocol=hook['protocol'])
        cfg.load_from = ckpt
        runner = Runner.from_cfg(cfg)
        calls = _counting(runner.model)
        metrics = runner.test()
        state = copy.deepcopy(runner.model.state_dict())
        labelled = [all(s.gt_tasks for s in samples) for samples in calls]
        results[loop] = (metrics, state, labelled)
    plain, session = results['TestLoop'], results['TestTimeAdaptLoop']
    # 8 samples in batches of 4: a plain loop preprocesses the adapter's
    # copy without labels, then the batch; the session's loop the batch once
    assert plain[2] == [False, True] * 2 and session[2] == [True] * 2
    assert plain[0] == session[0].domains['warm'].metrics
    assert all(torch.equal(plain[1][k], session[1][k]) for k in plain[1])
    assert session[0].domains['warm'].adaptation.steps == 4


def test_ground_truth_never_reaches_the_adapter():
    session = AdaptationSession(S4T, dict(type='paper', steps=1,
                                          num_batches=1, shuffle=False))
    model = _model()
    session.bind(model)
    calls = _recording(session)
    preprocessed = _counting(model)
    batch = synthetic_batch(n=2)
    items = [dict(inputs=i, data_samples=s)
             for i, s in zip(batch['inputs'], batch['data_samples'])]
    # the paper protocol's batch: stripped before it is preprocessed
    session.begin_domain(DataLoader(items, batch_size=2,
                                    collate_fn=pseudo_collate))
    assert [s.gt_tasks for s in preprocessed[0]] == [[], []]
    assert batch['data_samples'][0].gt_tasks != []  # the caller's batch
    (inputs, steps, _), = calls
    assert isinstance(inputs, torch.Tensor) and steps == 1
    # a predicted batch: the adapter gets its images, labels or not
    episodic = AdaptationSession(S4T, dict(type='episodic', steps=1))
    episodic.bind(model)
    seen = _recording(episodic)
    episodic.begin_domain()
    unlabeled = copy.deepcopy(batch)
    for s in unlabeled['data_samples']:
        for task in s.gt_tasks:
            delattr(s, 'gt_' + task)
    for i, b in enumerate((batch, unlabeled)):
        episodic.before_batch(i, b)
    assert torch.equal(seen[0][0], seen[1][0])
    assert seen[0][0].shape == (2, 3, 32, 32)


def test_report_counts_the_domain_and_its_failures():
    session = AdaptationSession(S4T, dict(type='episodic', steps=2))
    model = _model()
    session.bind(model)
    session.begin_domain()
    batches = [synthetic_batch(n=2, seed=s) for s in (0, 1)]
    for i, batch in enumerate(batches):
        session.before_batch(i, batch)
        outputs = session.predict(model, i, batch)
        assert not session.after_predict(i, outputs)
    report = session.report()
    assert report.steps == 4 and report.stats['resets'] == 2
    assert report.events == []
    # a second domain counts from zero; a non-finite prediction is recovered
    session.begin_domain()
    session.before_batch(0, batches[0])
    outputs = session.predict(model, 0, batches[0])
    outputs[0].set_pred('depth', torch.full_like(outputs[0].pred('depth'),
                                                 float('nan')))
    assert session.after_predict(0, outputs)
    report = session.report()
    assert report.steps == 2 and report.stats['non_finite_predictions'] == 1
    assert [e['event'] for e in report.events] == ['non_finite_predictions']


def test_unknown_adapter_names_the_registered_ones():
    with pytest.raises(ValueError, match="unknown adapter .*'Tnet'.*"
                       'TentAdapter'):
        AdaptationSession(dict(type='Tnet'))


def test_observers_see_every_adaptation_step():
    """Observers are called around each step, in the order added, with the
    session; one added twice is called once."""
    session = AdaptationSession(S4T, dict(type='episodic', steps=3))
    session.bind(_model())
    seen = []

    class Observer:

        def __init__(self, name):
            self.name = name

        def before_adapt_step(self, observed):
            assert observed is session
            seen.append((self.name, 'before',
                         observed.adapter.stats['steps']))

        def after_adapt_step(self, observed):
            seen.append((self.name, 'after', observed.adapter.stats['steps'],
                         sorted(observed.adapter.last_losses)))

    first = Observer('first')
    session.add_observer(first)
    session.add_observer(first)
    session.add_observer(Observer('second'))
    session.begin_domain()
    session.before_batch(0, synthetic_batch(n=2))
    losses = sorted(session.adapter.last_losses)
    assert losses and len(seen) == 3 * 4
    for step in range(3):
        assert seen[4 * step:4 * step + 4] == [
            ('first', 'before', step), ('second', 'before', step),
            ('first', 'after', step + 1, losses),
            ('second', 'after', step + 1, losses)]
