"""Fuzz of adaptation hyper-parameters on the tiny model: learning rates up
to 1e3, momentum, step counts, batches of one, all-constant images and
images of NaN. Nothing crashes, the model never keeps a non-finite tensor,
predictions of finite images are finite, and every failure is counted."""
import copy
import itertools
from collections import Counter

import torch

from s4t_mm.registry import ADAPTERS, MODELS
from s4t_mm.tta.adapters.base_adapter import FAILURE_COUNTERS
from ..test_models.utils import synthetic_batch, tiny_model_cfg

ADAPTER_TYPES = ('S4TAdapter', 'AuxConsistencyAdapter', 'TentAdapter',
                 'EataAdapter', 'NormStatsAdapter')
IMAGES = ('random', 'constant', 'nan')
LRS = (1e-3, 1.0, 1e3)


def _cases():
    """Every adapter x image kind x learning rate; momentum, steps, batch
    size and norm policy cycle so each value meets every adapter."""
    for i, (kind, images, lr) in enumerate(
            itertools.product(ADAPTER_TYPES, IMAGES, LRS)):
        yield dict(kind=kind, images=images, lr=lr,
                   momentum=(0.0, 0.9)[i % 2], steps=(1, 2, 5)[i % 3],
                   batch=(1, 2)[(i // 2) % 2],
                   norm_policy=('batch_stats', 'source_stats')[(i // 3) % 2])


def _adapter_cfg(case):
    cfg = dict(type=case['kind'], max_consecutive_failures=3)
    if case['kind'] == 'NormStatsAdapter':
        return cfg  # no optimizer, batch statistics only
    cfg.update(norm_policy=case['norm_policy'],
               optimizer=dict(type='SGD', lr=case['lr'],
                              momentum=case['momentum']))
    if case['kind'] in ('S4TAdapter', 'AuxConsistencyAdapter'):
        cfg['loss_weight'] = 1.0
    return cfg


def _images(model, case):
    inputs = model.data_preprocessor(synthetic_batch(n=case['batch']))[
        'inputs']
    if case['images'] == 'constant':
        return torch.full_like(inputs, 0.7)
    if case['images'] == 'nan':
        return torch.full_like(inputs, float('nan'))
    return inputs


def _all_finite(tensors):
    return all(bool(torch.isfinite(t).all()) for t in tensors)


@torch.no_grad()
def _predictions_finite(model, inputs):
    model.eval()
    outputs = model.head_outputs(model.extract_feat(inputs))
    return _all_finite(outputs.values())


def _fuzz_one(base, case, totals):
    model = copy.deepcopy(base)
    adapter = ADAPTERS.build(_adapter_cfg(case)).bind(model)
    adapter.begin_domain()
    inputs = _images(model, case)
    calls = []  # finiteness of every objective's loss, by step index
    objective = adapter.objective

    def observed(model_, inputs_):
        losses = objective(model_, inputs_)
        total = sum(v.detach().float().sum() for v in losses.values())
        # the guard counts a step when it takes it, after the objective
        calls.append((adapter.guard.step_index + 1, bool(torch.isfinite(
            torch.as_tensor(total)))))
        return losses

    adapter.objective = observed
    adapter.adapt(inputs, case['steps'], seed=0)
    stats, events = adapter.stats, adapter.events
    failures = [e for e in events if e['event'] in FAILURE_COUNTERS]

    # the model never keeps a non-finite tensor, whatever the images
    assert _all_finite([p for _, p in adapter.adapted]), case
    assert _all_finite(b for b in model.buffers()
                       if b.is_floating_point()), case
    # every step is accounted for: run, failed its check, or not run
    assert len(calls) + stats['steps_not_run'] == case['steps'], case
    if adapter.uses_gradients:
        assert len(calls) - stats['steps'] <= len(failures) <= \
            len(calls) - stats['steps'] + 1, case
    # a non-finite loss is never silent: its step has an event
    failed_steps = {e['step'] for e in failures}
    assert all(ok or step in failed_steps for step, ok in calls), case
    assert sum(stats[c] for c in FAILURE_COUNTERS.values()) == \
        len(failures), case
    assert stats['stopped'] == sum(e['action'] == 'stopped'
                                   for e in events), case
    # the hook's check of predictions: at most the last good state, then
    # the source state, predicts finite values on finite images
    predictions_ok = None
    for batch in range(3):
        predictions_ok = _predictions_finite(model, inputs)
        if predictions_ok:
            break
        adapter.recover('non_finite_predictions', batch=batch)
    if case['images'] != 'nan':
        assert predictions_ok, case
    totals['cases'] += 1
    totals['steps requested'] += case['steps']
    totals['steps taken'] += stats['steps']
    totals['steps not run (stopped)'] += stats['steps_not_run']
    totals['cases with failures'] += bool(adapter.events)
    for key in ('restored_last_good', 'restored_source', 'stopped'):
        totals[key] += stats[key]
    for event, counter in FAILURE_COUNTERS.items():
        totals[event] += stats[counter]


def test_fuzz_adaptation_hyper_parameters():
    torch.manual_seed(42)
    base = MODELS.build(tiny_model_cfg(relation=True))
    totals = Counter()
    for case in _cases():
        _fuzz_one(base, case, totals)
    print('\nadaptation fuzz:', dict(sorted(totals.items())))
    assert totals['cases'] == len(ADAPTER_TYPES) * len(IMAGES) * len(LRS)
    # the fuzz reaches every kind of recovery
    assert totals['restored_last_good'] and totals['restored_source']
    assert totals['stopped'] and totals['non_finite_predictions']
    # (a non-finite loss is blamed on its gradients, which it makes
    # non-finite; test_guard.py reaches a loss or parameters failing alone)
    assert totals['non_finite_buffers'] and totals['non_finite_gradients']
