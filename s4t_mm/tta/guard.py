"""The non-finite guard: a failed adaptation step never stays in the model,
by one rule on every device (see :class:`NonFiniteGuard`)."""
import logging
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

import torch
from mmengine.logging import print_log
from mmengine.optim import OptimWrapper

from .snapshot import StateSnapshot

#: What can fail, in the order a failure is blamed (a non-finite gradient
#: makes the parameters non-finite, and they the loss), and its counter.
FAILURE_COUNTERS = dict(
    non_finite_gradients='undone_non_finite_grads',
    non_finite_parameters='undone_non_finite_params',
    non_finite_buffers='undone_non_finite_buffers',
    non_finite_loss='skipped_non_finite_loss',
    non_finite_predictions='non_finite_predictions')
STEP_CHECKS = tuple(FAILURE_COUNTERS)[:4]

Named = Sequence[Tuple[str, torch.Tensor]]


class GuardReport(NamedTuple):
    """Counters (``steps`` kept, :data:`FAILURE_COUNTERS`' values, restores,
    ``stopped``) and the domain's events (``step``, ``event``, ``action``)."""
    counts: Dict[str, int]
    events: List[dict]


class NonFiniteGuard:
    """After each step a 0-dim flag (gradients, adapted parameters,
    statistics, loss all finite) keeps the new state as the last good one
    or writes the last good one (the source if none) back and zeroes the
    optimizer's state, on the device; :meth:`end_adapt` reads the flags once
    per ``adapt()``, counts and lists failures, stops the domain after
    ``max_consecutive_failures`` in a row: a CPU and a GPU record the same.
    It composes the optimizer wrapper as ``AmpOptimWrapper`` composes
    ``GradScaler``. ``enabled=False`` undoes nothing, counts bad losses."""

    def __init__(self, enabled: bool = True, max_consecutive_failures: int = 3,
                 owner: str = 'adapter'):
        if max_consecutive_failures < 1:
            raise ValueError('max_consecutive_failures must be >= 1, got '
                             f'{max_consecutive_failures}')
        self.enabled, self.owner = enabled, owner
        self.max_consecutive_failures = max_consecutive_failures
        self.counts = dict.fromkeys(('steps', 'restored_last_good',
                                     'restored_source', 'stopped',
                                     *FAILURE_COUNTERS.values()), 0)
        # source: the adapter's snapshot; good: the last good state
        self.source = self.good = self.optim_wrapper = None
        self._hook = self._grad_norm = None
        self._last_terms: Tuple[list, object] = ([], [])  # names, values
        self.begin_domain()

    def bind(self, source: StateSnapshot, adapted: Named, buffers: Named,
             optim_wrapper: Optional[OptimWrapper] = None) -> None:
        """Guard ``adapted`` and ``buffers`` (held by ``source``), stepped
        by ``optim_wrapper`` (None: forward-only)."""
        self.close()
        self.source, self.optim_wrapper = source, optim_wrapper
        self._good_valid = False  # no good step since the source state
        self._pending: List[Tuple[int, torch.Tensor]] = []  # unread flags
        self.adapted = [p for _, p in adapted]
        self.buffers = [b for _, b in buffers if b.is_floating_point()]
        self.good = StateSnapshot(list(adapted) + list(buffers)) \
            if self.enabled else None
        if self.enabled and optim_wrapper is not None:  # the step's norm
            self._hook = optim_wrapper.optimizer.register_step_pre_hook(
                lambda *_: setattr(self, '_grad_norm', _total_norm(
                    [p.grad for p in self.adapted if p.grad is not None])))

    def close(self) -> None:
        """Remove the hook :meth:`bind` put on the optimizer."""
        if self._hook is not None:
            self._hook = self._hook.remove()

    @property
    def last_losses(self) -> Dict[str, float]:
        """The last step's loss terms (name: value), read when asked for."""
        names, terms = self._last_terms
        if torch.is_tensor(terms):
            self._last_terms = (names, terms.tolist())
        return dict(zip(*self._last_terms))

    def report(self) -> GuardReport:
        """The counters and the current domain's events, as read so far."""
        return GuardReport(dict(self.counts), list(self.events))

    def step(self, losses: Dict[str, torch.Tensor]) -> None:
        """A gradient step on the sum of the loss terms, kept or undone."""
        self.step_index += 1
        terms = torch.stack([v.detach().float() for v in losses.values()])
        self._last_terms, self._grad_norm = (list(losses), terms), None
        self.optim_wrapper.update_params(sum(losses.values()))
        self._check(self._grad_norm, terms)

    def forward_step(self) -> None:
        """A forward-only step (statistics) ran: keep or undo it."""
        self.step_index += 1
        self._check(None, None)

    def _check(self, grad_norm, terms) -> None:
        self.counts['steps'] += 1  # taken back for a failure when read
        norms = [_total_norm(tensors) if self.enabled else None
                 for tensors in (self.adapted, self.buffers)]
        checked = [grad_norm, *norms, terms]  # None: not checked
        device = next((t.device for t in checked if t is not None), 'cpu')
        flags = torch.ones(len(STEP_CHECKS), dtype=torch.bool, device=device)
        for i in (i for i, v in enumerate(checked) if v is not None):
            flags[i] = torch.isfinite(checked[i]).all()
        self._pending.append((self.step_index, flags))
        if not self.enabled:
            return
        keep = flags.all()
        self.good.keep_or_restore(keep)
        states = self.optim_wrapper.optimizer.state.values() \
            if self.optim_wrapper is not None else ()
        for value in (v for state in states for v in state.values()):
            if torch.is_tensor(value) and value.is_floating_point() and \
                    value.device == keep.device:  # undone: a fresh state
                value.masked_fill_(~keep, 0)

    def end_adapt(self) -> None:
        """Read the steps' flags (one synchronisation), record failures."""
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        rows = torch.stack([flags for _, flags in pending]).tolist()
        for (index, _), row in zip(pending, rows):
            failed = [k for k, ok in zip(STEP_CHECKS, row) if not ok]
            if not failed:
                self.failures, self._good_valid = 0, True
            elif not self.enabled:
                self._record(index, failed[0], 'none')
            else:
                self.counts['steps'] -= 1
                self._record(index, failed[0], 'restored_last_good'
                             if self._good_valid else 'restored_source')
        self._stop_if_failing(pending[-1][0])

    def recover(self, event: str, **info) -> None:
        """A failure seen outside a step (``'non_finite_predictions'``): the
        current state is the last good one, so the source comes back."""
        if event not in FAILURE_COUNTERS:
            raise ValueError(f'unknown adaptation event {event!r}; valid: '
                             f'{", ".join(FAILURE_COUNTERS)}')
        self.end_adapt()
        if self.enabled:
            self.source.restore()
            self.reset()
        self._record(self.step_index, event, 'restored_source'
                     if self.enabled else 'none', **info)
        self._stop_if_failing(self.step_index)

    def reset(self) -> None:
        """The source state was restored: it is the last good one; the
        optimizer's state is forgotten."""
        self.end_adapt()
        if self.good is not None:
            self.good.update()
        self._good_valid = False
        if self.optim_wrapper is not None:
            self.optim_wrapper.optimizer.state.clear()
            self.optim_wrapper.zero_grad(set_to_none=True)

    def begin_domain(self) -> None:
        """Adapt again, count steps from 0, start a new event list."""
        self.stopped = False
        self.failures = self.step_index = 0  # in a row; attempted
        self.events: List[dict] = []

    def _record(self, step: int, event: str, action: str, **info) -> None:
        """Count, list and log one failure."""
        self.counts[FAILURE_COUNTERS[event]] += 1
        if action != 'none':
            self.counts[action] += 1
            self.failures += 1
        self.events.append(dict(step=step, event=event, action=action, **info))
        print_log(f'{self.owner}: {event.replace("_", " ")} at adaptation '
                  f'step {step}; {action.replace("_", " ")}',
                  logger='current', level=logging.WARNING)

    def _stop_if_failing(self, step: int) -> None:
        if self.failures >= self.max_consecutive_failures and not self.stopped:
            self.stopped = True
            self.counts['stopped'] += 1
            self.events.append(dict(step=step, event='consecutive_failures',
                                    action='stopped'))
            print_log(f'{self.owner}: {self.failures} consecutive failures; '
                      'adaptation stops for the rest of this domain',
                      logger='current', level=logging.WARNING)


def _total_norm(tensors: List[torch.Tensor]) -> Optional[torch.Tensor]:
    """The tensors' total 2-norm, without reading it (NaN, inf propagate)."""
    return torch.nn.utils.get_total_norm(tensors) if tensors else None
