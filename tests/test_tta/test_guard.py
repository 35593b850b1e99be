"""The non-finite guard on its own, on a two-value parameter and one
statistic: a failure restores the last good state, is counted and listed,
K failures in a row stop the domain, and the host and device variants take
the same good steps."""
import math

import pytest
import torch
import torch.nn as nn
from mmengine.optim import OptimWrapper

from s4t_mm.tta.guard import (FAILURE_COUNTERS, DeviceGuard, HostGuard,
                              build_guard)
from s4t_mm.tta.snapshot import StateSnapshot

NAN = float('nan')


def _stats():
    return dict(steps=0, restored_last_good=0, restored_source=0, stopped=0,
                **{c: 0 for c in FAILURE_COUNTERS.values()})


def _bound(mode, momentum=0.0, gradients=True, **kwargs):
    """A guard over ``w = [1, 2]`` (SGD, lr 0.5) and a statistic ``b = 0``
    (and an integer buffer, which is never checked)."""
    w = nn.Parameter(torch.tensor([1.0, 2.0]))
    b, count = torch.zeros(1), torch.zeros((), dtype=torch.long)
    adapted, buffers = [('w', w)], [('b', b), ('count', count)]
    wrapper = OptimWrapper(torch.optim.SGD(
        [w], lr=0.5, momentum=momentum)) if gradients else None
    guard = build_guard(_stats(), guard_mode=mode, gradient_steps=gradients,
                        **kwargs)
    guard.bind(StateSnapshot(adapted + buffers), adapted, buffers, wrapper)
    return guard, w, b


def _step(guard, w, scale=1.0):
    """One step on ``scale * |w|^2 / 2``: the gradient is ``scale * w``, so
    a step with ``scale=1`` halves ``w``; ``scale=nan`` makes everything
    non-finite."""
    guard.begin_step()
    guard.update_params({'l2': 0.5 * scale * (w ** 2).sum()})


def _events(guard):
    return [(e['step'], e['event'], e['action']) for e in guard.events]


def test_build_guard_chooses_the_variant():
    assert type(build_guard(_stats(), guard_mode='auto')) is HostGuard
    assert type(build_guard(_stats(), guard_mode='auto',
                            on_gpu=True)) is DeviceGuard
    assert type(build_guard(_stats(), guard_mode='device')) is DeviceGuard
    # forward-only methods and the guard turned off decide on the host
    assert type(build_guard(_stats(), guard_mode='device',
                            gradient_steps=False)) is HostGuard
    off = build_guard(_stats(), guard_mode='device', guard_non_finite=False)
    assert type(off) is HostGuard and not off.enabled
    with pytest.raises(ValueError, match="unknown guard_mode 'gpu'; valid: "
                       'auto, host, device'):
        build_guard(_stats(), guard_mode='gpu')
    with pytest.raises(ValueError, match='max_consecutive_failures must be '
                       '>= 1, got 0'):
        build_guard(_stats(), max_consecutive_failures=0)


def test_host_guard_restores_the_state_the_bad_loss_was_not_seen_at():
    guard, w, b = _bound('host')
    _step(guard, w)
    _step(guard, w)
    assert w.tolist() == [0.25, 0.5] and guard.stats['steps'] == 2
    assert guard.last_losses == {'l2': 0.625}  # at [0.5, 1]
    _step(guard, w, scale=NAN)
    # the NaN loss is seen before its backward pass, at [0.25, 0.5]: that
    # state never had a finite loss, so the one before it comes back
    assert w.tolist() == [0.5, 1.0]
    assert _events(guard) == [(3, 'non_finite_loss', 'restored_last_good')]
    assert guard.stats['skipped_non_finite_loss'] == 1
    assert guard.stats['restored_last_good'] == 1
    assert guard.stats['steps'] == 2 and guard.failures == 1
    # a good step ends the streak once its result is seen, at the next step
    _step(guard, w)
    assert guard.failures == 1
    _step(guard, w)
    assert w.tolist() == [0.125, 0.25] and guard.failures == 0


def test_device_guard_undoes_the_failed_step_itself():
    guard, w, b = _bound('device')
    _step(guard, w)
    _step(guard, w)
    _step(guard, w, scale=NAN)
    # the NaN step was taken, then written back on the device
    assert w.tolist() == [0.25, 0.5]
    assert guard.events == [] and guard.stats['steps'] == 3  # not read yet
    guard.end_adapt(3)
    assert _events(guard) == [
        (3, 'non_finite_gradients', 'restored_last_good')]
    assert guard.stats['undone_non_finite_grads'] == 1
    assert guard.stats['steps'] == 2 and guard.failures == 1
    assert math.isnan(guard.last_losses['l2'])  # read when asked for


@pytest.mark.parametrize('mode', ['host', 'device'])
def test_a_non_finite_statistic_restores_the_last_good_state(mode):
    guard, w, b = _bound(mode)
    _step(guard, w)
    b.fill_(NAN)  # as a train-mode BatchNorm fed a NaN batch
    _step(guard, w)
    guard.end_adapt(2)
    assert b.tolist() == [0.0]
    assert _events(guard) == [(2, 'non_finite_buffers',
                               'restored_last_good')]
    # the host checks step 1's result at step 2 (before taking it), the
    # device keeps step 1's result and undoes step 2
    assert w.tolist() == ([1.0, 2.0] if mode == 'host' else [0.5, 1.0])


@pytest.mark.parametrize('mode, event', [('host', 'non_finite_loss'),
                                         ('device', 'non_finite_gradients')])
def test_k_failures_in_a_row_stop_until_the_next_domain(mode, event):
    guard, w, b = _bound(mode, max_consecutive_failures=2)
    for _ in range(2):
        _step(guard, w, scale=NAN)
    guard.end_adapt(2)
    # no good step yet: the source state is the last good one
    assert w.tolist() == [1.0, 2.0]
    assert guard.stopped and guard.stats['stopped'] == 1
    assert _events(guard) == [(1, event, 'restored_source'),
                              (2, event, 'restored_source'),
                              (2, 'consecutive_failures', 'stopped')]
    assert guard.stats['restored_source'] == 2 and guard.stats['steps'] == 0
    guard.begin_domain()
    assert not guard.stopped and guard.events == [] and guard.step_index == 0


def test_host_and_device_guards_take_the_same_good_steps_bitwise():
    runs = []
    for mode in ('host', 'device'):
        guard, w, b = _bound(mode, momentum=0.9)
        for scale in (1.0, 0.3, 2.0, 0.7):
            _step(guard, w, scale)
        guard.end_adapt(4)
        runs.append((w.detach().clone(), dict(guard.stats),
                     guard.last_losses))
    (w_host, stats_host, loss_host), (w_dev, stats_dev, loss_dev) = runs
    assert torch.equal(w_host, w_dev) and loss_host == loss_dev
    assert stats_host == stats_dev and stats_host['steps'] == 4
    assert not torch.equal(w_host, torch.tensor([1.0, 2.0]))


@pytest.mark.parametrize('mode', ['host', 'device'])
def test_a_failed_step_forgets_the_momentum(mode):
    guard, w, b = _bound(mode, momentum=0.9)
    _step(guard, w)
    _step(guard, w, scale=NAN)
    guard.end_adapt(2)
    state = guard.optim_wrapper.optimizer.state
    # the host clears the optimizer's state, the device zeroes it: both
    # are a fresh SGD's
    if mode == 'host':
        assert not state
    else:
        assert [s['momentum_buffer'].tolist() for s in state.values()] == [
            [0.0, 0.0]]


def test_predictions_failure_restores_last_good_then_source():
    guard, w, b = _bound('host')
    for _ in range(2):
        _step(guard, w)
    guard.end_adapt(2)
    guard.recover('non_finite_predictions', batch=0)
    assert w.tolist() == [0.5, 1.0]  # the state step 2 was checked at
    # the restored state's own predictions fail: only the source is left
    guard.recover('non_finite_predictions', batch=1)
    assert w.tolist() == [1.0, 2.0]
    assert guard.events[-1] == dict(step=2, event='non_finite_predictions',
                                    action='restored_source', batch=1)
    with pytest.raises(ValueError, match="unknown adaptation event 'nan'; "
                       'valid: non_finite_gradients'):
        guard.recover('nan')


def test_device_guard_predictions_failure_restores_the_source():
    guard, w, b = _bound('device')
    for _ in range(2):
        _step(guard, w)
    guard.recover('non_finite_predictions', batch=0)  # reads the flags too
    assert w.tolist() == [1.0, 2.0] and guard.stats['steps'] == 2
    assert _events(guard) == [(2, 'non_finite_predictions',
                               'restored_source')]
    # the source is the last good state now
    _step(guard, w, scale=NAN)
    guard.end_adapt(1)
    assert w.tolist() == [1.0, 2.0]


def test_forward_only_steps_are_checked_when_adapt_ends():
    guard, w, b = _bound('host', gradients=False)
    guard.begin_step()
    b.add_(3.0)  # what a forward pass in train mode does to a statistic
    guard.forward_step_taken()
    guard.end_adapt(1)
    guard.begin_step()
    b.fill_(NAN)
    guard.forward_step_taken()
    guard.end_adapt(1)
    assert b.tolist() == [3.0]
    assert _events(guard) == [(2, 'non_finite_buffers',
                               'restored_last_good')]
    assert guard.stats['steps'] == 2


def test_without_the_guard_a_non_finite_loss_only_skips_its_step():
    guard, w, b = _bound('host', guard_non_finite=False,
                         max_consecutive_failures=1)
    _step(guard, w)
    _step(guard, w, scale=NAN)
    guard.end_adapt(2)
    assert w.tolist() == [0.5, 1.0] and guard.good is None
    assert _events(guard) == [(2, 'non_finite_loss', 'skipped')]
    assert not guard.stopped and guard.stats['restored_source'] == 0


def test_reset_makes_the_source_the_last_good_state():
    for mode in ('host', 'device'):
        guard, w, b = _bound(mode)
        _step(guard, w)
        guard.end_adapt(1)
        guard.source.restore()
        guard.reset()
        _step(guard, w, scale=NAN)
        guard.end_adapt(1)
        assert w.tolist() == [1.0, 2.0], mode
        assert guard.events[-1]['action'] == 'restored_source', mode
