"""The non-finite guard on its own, on a two-value parameter and one
statistic: a failed step is undone at once, counted and listed when the
flags are read, K failures in a row stop the domain, and the guard removes
the hook it puts on the optimizer."""
import math

import pytest
import torch
import torch.nn as nn
from mmengine.optim import OptimWrapper

from s4t_mm.tta.guard import NonFiniteGuard
from s4t_mm.tta.snapshot import StateSnapshot

NAN = float('nan')


def _bound(momentum=0.0, gradients=True, lr=0.5, **kwargs):
    """A guard over ``w = [1, 2]`` (SGD) and a statistic ``b = 0`` (and an
    integer buffer, which is never checked)."""
    w = nn.Parameter(torch.tensor([1.0, 2.0]))
    b, count = torch.zeros(1), torch.zeros((), dtype=torch.long)
    adapted, buffers = [('w', w)], [('b', b), ('count', count)]
    wrapper = OptimWrapper(torch.optim.SGD(
        [w], lr=lr, momentum=momentum)) if gradients else None
    guard = NonFiniteGuard(**kwargs)
    guard.bind(StateSnapshot(adapted + buffers), adapted, buffers, wrapper)
    return guard, w, b


def _step(guard, w, scale=1.0, extra=None):
    """One step on ``scale * |w|^2 / 2``: the gradient is ``scale * w``, so
    a step with ``scale=1`` halves ``w``; ``scale=nan`` makes everything
    non-finite; ``extra`` adds a loss term without gradient."""
    losses = {'l2': 0.5 * scale * (w ** 2).sum()}
    if extra is not None:
        losses['monitor'] = torch.tensor(extra)
    guard.step(losses)


def _events(guard):
    return [(e['step'], e['event'], e['action']) for e in guard.events]


def test_a_failed_step_is_undone_at_once_and_counted_when_read():
    guard, w, b = _bound()
    _step(guard, w)
    _step(guard, w)
    _step(guard, w, scale=NAN)
    # the NaN step was taken, then written back on the device
    assert w.tolist() == [0.25, 0.5]
    assert guard.events == [] and guard.counts['steps'] == 3  # not read yet
    guard.end_adapt()
    assert _events(guard) == [
        (3, 'non_finite_gradients', 'restored_last_good')]
    report = guard.report()
    assert report.counts['undone_non_finite_grads'] == 1
    assert report.counts['steps'] == 2 and guard.failures == 1
    assert math.isnan(guard.last_losses['l2'])  # read when asked for
    _step(guard, w)
    guard.end_adapt()
    assert w.tolist() == [0.125, 0.25] and guard.failures == 0


@pytest.mark.parametrize('lr, scale, extra, event', [
    (float('inf'), 1.0, None, 'non_finite_parameters'),
    (0.5, 1.0, NAN, 'non_finite_loss'),
])
def test_each_check_blames_its_own_failure(lr, scale, extra, event):
    guard, w, b = _bound(lr=lr)
    _step(guard, w, scale, extra)
    guard.end_adapt()
    assert w.tolist() == [1.0, 2.0]
    assert _events(guard) == [(1, event, 'restored_source')]


def test_a_non_finite_statistic_restores_the_last_good_state():
    guard, w, b = _bound()
    _step(guard, w)
    b.fill_(NAN)  # as a train-mode BatchNorm fed a NaN batch
    _step(guard, w)
    guard.end_adapt()
    assert b.tolist() == [0.0]
    assert _events(guard) == [(2, 'non_finite_buffers',
                               'restored_last_good')]
    # step 1's result is kept, step 2 undone
    assert w.tolist() == [0.5, 1.0]


def test_k_failures_in_a_row_stop_until_the_next_domain():
    guard, w, b = _bound(max_consecutive_failures=2)
    for _ in range(2):
        _step(guard, w, scale=NAN)
    guard.end_adapt()
    # no good step yet: the source state is the last good one
    assert w.tolist() == [1.0, 2.0]
    assert guard.stopped and guard.counts['stopped'] == 1
    event = 'non_finite_gradients'
    assert _events(guard) == [(1, event, 'restored_source'),
                              (2, event, 'restored_source'),
                              (2, 'consecutive_failures', 'stopped')]
    assert guard.counts['restored_source'] == 2
    assert guard.counts['steps'] == 0
    guard.begin_domain()
    assert not guard.stopped and guard.events == [] and guard.step_index == 0


def test_a_good_step_between_failures_keeps_the_domain_going():
    guard, w, b = _bound(max_consecutive_failures=2)
    _step(guard, w, scale=NAN)
    _step(guard, w)
    _step(guard, w, scale=NAN)
    guard.end_adapt()
    assert not guard.stopped and guard.failures == 1
    assert w.tolist() == [0.5, 1.0]


def test_a_failed_step_leaves_a_fresh_momentum():
    guard, w, b = _bound(momentum=0.9)
    _step(guard, w)
    _step(guard, w, scale=NAN)
    guard.end_adapt()
    state = guard.optim_wrapper.optimizer.state
    assert [s['momentum_buffer'].tolist() for s in state.values()] == [
        [0.0, 0.0]]


def test_predictions_failure_restores_the_source():
    guard, w, b = _bound()
    for _ in range(2):
        _step(guard, w)
    guard.recover('non_finite_predictions', batch=0)  # reads the flags too
    assert w.tolist() == [1.0, 2.0] and guard.counts['steps'] == 2
    assert guard.events == [dict(step=2, event='non_finite_predictions',
                                 action='restored_source', batch=0)]
    # the source is the last good state now
    _step(guard, w, scale=NAN)
    guard.end_adapt()
    assert w.tolist() == [1.0, 2.0]
    with pytest.raises(ValueError, match="unknown adaptation event 'nan'; "
                       'valid: non_finite_gradients'):
        guard.recover('nan')


def test_forward_only_steps_are_kept_or_undone():
    guard, w, b = _bound(gradients=False)
    b.add_(3.0)  # what a forward pass in train mode does to a statistic
    guard.forward_step()
    b.fill_(NAN)
    guard.forward_step()
    assert b.tolist() == [3.0]  # undone before anything was read
    guard.end_adapt()
    assert _events(guard) == [(2, 'non_finite_buffers',
                               'restored_last_good')]
    assert guard.counts['steps'] == 1


def test_without_the_guard_nothing_is_undone_and_losses_are_counted():
    guard, w, b = _bound(enabled=False, max_consecutive_failures=1)
    _step(guard, w)
    _step(guard, w, scale=NAN)
    guard.end_adapt()
    assert math.isnan(w.tolist()[0]) and guard.good is None
    assert _events(guard) == [(2, 'non_finite_loss', 'none')]
    assert not guard.stopped and guard.counts['restored_source'] == 0


def test_reset_makes_the_source_the_last_good_state():
    guard, w, b = _bound()
    _step(guard, w)
    guard.end_adapt()
    guard.source.restore()
    guard.reset()
    _step(guard, w, scale=NAN)
    guard.end_adapt()
    assert w.tolist() == [1.0, 2.0]
    assert guard.events[-1]['action'] == 'restored_source'


def test_the_guard_removes_its_optimizer_hook():
    guard, w, b = _bound()
    optimizer = guard.optim_wrapper.optimizer
    assert len(optimizer._optimizer_step_pre_hooks) == 1
    guard.bind(guard.source, [('w', w)], [('b', b)], guard.optim_wrapper)
    assert len(optimizer._optimizer_step_pre_hooks) == 1  # not a second
    guard.close()
    assert not optimizer._optimizer_step_pre_hooks


def test_max_consecutive_failures_is_checked():
    with pytest.raises(ValueError, match='max_consecutive_failures must be '
                       '>= 1, got 0'):
        NonFiniteGuard(max_consecutive_failures=0)
