"""What every test-time adaptation method shares: which parameters move,
one adaptation step, snapshot and reset."""
import copy
import math
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmengine.logging import print_log
from mmengine.optim import OptimWrapper, build_optim_wrapper
from torch.nn.modules.batchnorm import _NormBase

from ..snapshot import StateSnapshot

NORM_POLICIES = ('batch_stats', 'source_stats')
#: Where the non-finite guard decides: ``'host'`` reads every step's checks
#: (one synchronisation per step), ``'device'`` keeps them on the device
#: and reads them once per :meth:`BaseAdapter.adapt`; ``'auto'`` takes
#: ``'device'`` for a model on a GPU, ``'host'`` otherwise.
GUARD_MODES = ('auto', 'host', 'device')
#: The optimizer wrapper each ``amp`` value steps through: fp32, bf16 under
#: ``torch.autocast`` on the model's device (CPU or GPU, no loss scaling
#: needed), fp16 with dynamic loss scaling (mmengine's, CUDA only).
AMP_WRAPPERS = {
    None: dict(type='OptimWrapper'),
    'bf16': dict(type='s4t_mm.AutocastOptimWrapper', dtype='bfloat16'),
    'fp16': dict(type='AmpOptimWrapper', dtype='float16'),
}

#: What can fail, in the order a failure is blamed (a non-finite gradient
#: makes the parameters non-finite, and they the loss), and the counter of
#: each in ``stats``.
FAILURE_COUNTERS = dict(
    non_finite_gradients='undone_non_finite_grads',
    non_finite_parameters='undone_non_finite_params',
    non_finite_buffers='undone_non_finite_buffers',
    non_finite_loss='skipped_non_finite_loss',
    non_finite_predictions='non_finite_predictions')


class BaseAdapter:
    """Base class of test-time adaptation methods.

    A method says which parameters it adapts (:meth:`select_parameters`) and
    what it minimises on an unlabeled batch (:meth:`objective`); the base
    class owns the rest:

    - :meth:`bind` attaches to a model, builds an mmengine optimizer
      wrapper over the selected parameters (:attr:`optim_wrapper`, built by
      ``build_optim_wrapper`` as training builds its own, so AMP, gradient
      clipping and accumulation are mmengine's) and snapshots the source
      state (the selected parameters, every buffer);
    - :meth:`adapt` runs gradient steps on a batch of *normalised input
      tensors* (labels never reach an adapter);
    - :meth:`reset` restores the snapshot in place, bitwise.

    With ``guard_non_finite`` (default) a failure never stays in the model:
    when a loss, a gradient, an adapted parameter, a normalisation
    statistic or (reported by the hook, :meth:`recover`) a prediction is not
    finite, the adapter restores the *last good state*, the last state whose
    parameters, statistics and loss were all seen finite (the source state
    if there is none since the last :meth:`reset`), clears the optimizer's
    state and goes on. After ``max_consecutive_failures`` failures without
    a good step in between it stops adapting until the next
    :meth:`begin_domain` and says so. Every failure is counted in
    :attr:`stats` and listed, with its step and the action taken, in
    :attr:`events`.

    Where the guard decides is ``guard_mode``:

    - ``'host'``: a step costs one host synchronisation: the finiteness of
      the previous step's gradients (their norm is taken, without a
      synchronisation, just before the optimizer steps) and resulting
      parameters, of the normalisation statistics and of this step's loss
      terms are read together, before this step's backward pass; one more
      at the end of :meth:`adapt` checks its last step.
    - ``'device'``: no step waits for the device. After each step a 0-dim
      flag (loss, gradients, resulting parameters and statistics all
      finite) selects, on the device, between keeping the new state as the
      last good one and writing the last good one back (the optimizer's
      state is zeroed then: a fresh SGD's or Adam's); the flags are read
      once, at the end of :meth:`adapt`, which counts and lists the
      failures and stops the domain if its last ``max_consecutive_failures``
      steps all failed. A failed step is undone at once, not one step
      later, and the last good state is the last state a good step left.
      :attr:`last_losses` is read from the device only when asked for.

    (Two things outside the guard still read the device every step, in
    both modes: gradient clipping, if configured, logs the gradient norm,
    and fp16 loss scaling (torch's ``GradScaler``) reads whether the
    gradients overflowed before it steps; fp32 and bf16 need neither.)

    Args:
        optimizer: optimizer config over the selected parameters, e.g.
            ``dict(type='SGD', lr=2e-5, weight_decay=1e-6)``.
        optim_wrapper: the rest of an mmengine optimizer wrapper config
            (``clip_grad``, ``accumulative_counts``, ``paramwise_cfg``,
            whose ``custom_keys`` match the adapted parameters' names, or
            an explicit ``type``, then without ``amp``); its ``optimizer``
            defaults to ``optimizer``.
        norm_policy: ``'batch_stats'``: normalisation layers use (and update)
            batch statistics while adapting, as in the S4T reference;
            ``'source_stats'``: they keep the source running statistics.
        guard_non_finite: restore the last good state after a non-finite
            loss, gradient, parameter, statistic or prediction; without it a
            non-finite loss only skips its step.
        max_consecutive_failures: failures without a good step in between
            after which adaptation stops for the rest of the domain.
        guard_mode: ``'auto'``, ``'host'`` or ``'device'``, see above.
        amp: mixed precision of the objective: None, ``'bf16'`` (CPU or
            GPU) or ``'fp16'`` (GPU, with dynamic loss scaling), the optimizer
            wrapper of :data:`AMP_WRAPPERS`.
        channels_last: convert the model (at :meth:`bind`) and the adapted
            batches to the channels-last memory format; on CPUs this makes
            the convolutions of an S4T step markedly faster
            (docs/benchmarks.md). Values are unchanged.
    """

    #: The method does gradient steps; BN-adapt-like methods set False.
    uses_gradients = True

    def __init__(self,
                 optimizer: Optional[dict] = None,
                 optim_wrapper: Optional[dict] = None,
                 norm_policy: str = 'batch_stats',
                 guard_non_finite: bool = True,
                 max_consecutive_failures: int = 3,
                 guard_mode: str = 'auto',
                 amp: Optional[str] = None,
                 channels_last: bool = False):
        if norm_policy not in NORM_POLICIES:
            raise ValueError(f'unknown norm_policy {norm_policy!r}; valid: '
                             f'{", ".join(NORM_POLICIES)}')
        self.optimizer_cfg = dict(optimizer or dict(type='SGD', lr=2e-5,
                                                    weight_decay=1e-6))
        if guard_mode not in GUARD_MODES:
            raise ValueError(f'unknown guard_mode {guard_mode!r}; valid: '
                             f'{", ".join(GUARD_MODES)}')
        if amp not in AMP_WRAPPERS:
            raise ValueError(f'unknown amp {amp!r}; valid: '
                             f'{", ".join(map(str, AMP_WRAPPERS))}')
        self.optim_wrapper_cfg = dict(optim_wrapper or {})
        if amp is not None and 'type' in self.optim_wrapper_cfg:
            raise ValueError(
                f'amp={amp!r} chooses the optimizer wrapper; drop it or '
                f"optim_wrapper's type {self.optim_wrapper_cfg['type']!r}")
        if max_consecutive_failures < 1:
            raise ValueError('max_consecutive_failures must be >= 1, got '
                             f'{max_consecutive_failures}')
        self.norm_policy = norm_policy
        self.guard_non_finite = guard_non_finite
        self.max_consecutive_failures = max_consecutive_failures
        self.guard_mode = guard_mode
        # the mode in use, resolved at bind(); 'device' only with the guard
        # and gradient steps
        self._on_device = False
        # per step of 'device' mode not read yet: (step index, a bool
        # tensor: gradients, parameters, buffers, loss finite, in the order
        # of FAILURE_COUNTERS); read at the end of adapt()
        self._pending: List[Tuple[int, torch.Tensor]] = []
        self.amp = amp
        self.channels_last = channels_last
        # Random draws of an objective (e.g. S4T's patch masks) come from
        # this generator, seeded per batch by the driver (see
        # :meth:`adapt`), so results do not depend on how batches are
        # ordered or sharded across processes.
        self.generator: Optional[torch.Generator] = None
        self.model: Optional[nn.Module] = None
        self.optim_wrapper: Optional[OptimWrapper] = None
        self._source_scaler = None  # a fresh loss scaler, for reset()
        # the norm of the gradients the last step applied, taken by a step
        # pre-hook of the optimizer and read at the next check
        self._grad_norm: Optional[torch.Tensor] = None
        self.stats = dict(steps=0, resets=0, single_image_batches=0,
                          restored_last_good=0, restored_source=0,
                          stopped=0, steps_not_run=0,
                          **{c: 0 for c in FAILURE_COUNTERS.values()})
        # the last step's loss terms: names and a device tensor until read
        self._last_losses: Dict[str, float] = {}
        self._last_terms: Optional[Tuple[List[str], torch.Tensor]] = None
        #: The failures of the current domain: dicts with ``step`` (steps
        #: attempted in the domain so far), ``event`` and ``action``.
        self.events: List[dict] = []
        self._step_index = 0
        # (before, after) pairs called around every step with the adapter
        self._step_callbacks: List[Tuple[Optional[Callable],
                                         Optional[Callable]]] = []
        self._failures = 0  # consecutive, without a good step in between
        self._stopped = False
        self._stepped = False  # the last step's result is not checked yet
        self._good_valid = False  # False: the last good state is the source
        self._restored = False  # no step since the last restore

    # -- what a method defines -------------------------------------------
    def select_parameters(self, model: nn.Module
                          ) -> List[Tuple[str, nn.Parameter]]:
        """(name, parameter) pairs this method adapts."""
        raise NotImplementedError

    def objective(self, model: nn.Module,
                  inputs: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Named loss terms on an unlabeled batch; their sum is minimised.

        Methods without gradient steps (``uses_gradients = False``) run the
        forward pass whose side effects adapt the model (normalisation
        statistics) and return an empty dict.
        """
        raise NotImplementedError

    def extra_modules(self) -> Sequence[nn.Module]:
        """Modules the method owns and adapts besides the model (e.g. loss
        weights); their parameters join the optimizer and the snapshot."""
        return ()

    # -- shared machinery ------------------------------------------------
    def bind(self, model: nn.Module) -> 'BaseAdapter':
        """Attach to ``model`` and snapshot its current (source) state."""
        if self.channels_last:
            model.to(memory_format=torch.channels_last)
        self.model = model
        named = list(self.select_parameters(model))
        for i, module in enumerate(self.extra_modules()):
            named += [(f'extra{i}.{n}', p)
                      for n, p in module.named_parameters()]
        self.adapted = named
        params = [p for _, p in named]
        if self.uses_gradients:
            if not params:
                raise ValueError(f'{type(self).__name__} selected no '
                                 'parameters to adapt in this model')
            self.optim_wrapper = self._build_optim_wrapper(model, named)
        buffers = [(n, b) for n, b in model.named_buffers()]
        self.snapshot = StateSnapshot(named + buffers)
        self._good = StateSnapshot(named + buffers) \
            if self.guard_non_finite else None
        self._good_valid = False
        self._stepped = False
        self._checked_buffers = [b for _, b in buffers
                                 if b.is_floating_point()]
        on_gpu = any(t.device.type != 'cpu'
                     for t in params + [b for _, b in buffers])
        self._on_device = (self.guard_non_finite and self.uses_gradients
                           and (self.guard_mode == 'device' or
                                (self.guard_mode == 'auto' and on_gpu)))
        self._pending = []
        print_log(
            f'{type(self).__name__}: adapting {len(params)} tensors '
            f'({sum(p.numel() for p in params):,} values), norm policy '
            f'{self.norm_policy}', logger='current')
        return self

    @property
    def last_losses(self) -> Dict[str, float]:
        """The last step's loss terms (name: value)."""
        if self._last_terms is not None:
            names, terms = self._last_terms
            self._last_losses = dict(zip(names, terms.tolist()))
            self._last_terms = None
        return self._last_losses

    @last_losses.setter
    def last_losses(self, losses: Dict[str, float]) -> None:
        self._last_losses, self._last_terms = dict(losses), None

    @property
    def optimizer(self) -> Optional[torch.optim.Optimizer]:
        """The torch optimizer inside :attr:`optim_wrapper` (None for
        methods without gradient steps)."""
        return None if self.optim_wrapper is None \
            else self.optim_wrapper.optimizer

    def _build_optim_wrapper(self, model: nn.Module,
                             named: List[Tuple[str, nn.Parameter]]
                             ) -> OptimWrapper:
        """The optimizer wrapper over the ``named`` parameters, built by
        mmengine's ``build_optim_wrapper`` from :attr:`optim_wrapper_cfg`,
        ``optimizer`` and ``amp``."""
        cfg = dict(AMP_WRAPPERS[self.amp])
        if self.amp == 'fp16' and not next(model.parameters()).is_cuda:
            # mmengine's AmpOptimWrapper needs a GPU; the step says so
            cfg = dict(AMP_WRAPPERS[None])
        cfg.update(self.optim_wrapper_cfg)
        cfg.setdefault('optimizer', self.optimizer_cfg)
        wrapper = build_optim_wrapper(_parameter_tree(named), cfg)
        if self.guard_non_finite:  # the norm is only read by the guard
            wrapper.optimizer.register_step_pre_hook(self._take_grad_norm)
        scaler = getattr(wrapper, 'loss_scaler', None)
        self._source_scaler = copy.deepcopy(scaler)
        return wrapper

    def _take_grad_norm(self, optimizer, args, kwargs) -> None:
        grads = [p.grad for _, p in self.adapted if p.grad is not None]
        self._grad_norm = _norm_sum(grads) if grads else None

    def reset(self) -> None:
        """Restore the source state in place (bitwise) and forget the
        optimizer's state (momentum etc.) and the loss scale."""
        self._pending = []  # the source state makes them moot
        self.snapshot.restore()
        if self._on_device:
            self._good.update()  # the last good state is the source
        self._forget_optimizer_state()
        if self._source_scaler is not None:
            self.optim_wrapper.loss_scaler = copy.deepcopy(
                self._source_scaler)
        self._good_valid = False
        self._stepped = False
        self.stats['resets'] += 1

    def begin_domain(self) -> None:
        """Start a target domain: adapt again if a divergence stopped it in
        the previous one, count steps from 0 and start a new event list.
        The model's state is left as it is (see the protocols)."""
        self._stopped = False
        self._failures = 0
        self._step_index = 0
        self.events = []

    @property
    def stopped(self) -> bool:
        """Whether adaptation is stopped for the rest of the domain."""
        return self._stopped

    def recover(self, event: str, **info) -> None:
        """Restore the last good state after a failure seen outside a step
        (the hook reports ``'non_finite_predictions'``), count it and record
        it with ``info`` (e.g. ``batch=3``). With the guard on the device
        the current state is the last good one, so the source state is
        restored."""
        if event not in FAILURE_COUNTERS:
            raise ValueError(f'unknown adaptation event {event!r}; valid: '
                             f'{", ".join(FAILURE_COUNTERS)}')
        self._read_pending()
        if self._on_device:
            # the current state is the last good one: only the source is
            # left
            self._good_valid = False
        self._fail(event, **info)
        if self._on_device:
            self._good.update()

    def register_step_callback(self, before: Optional[Callable] = None,
                               after: Optional[Callable] = None) -> None:
        """Call ``before(adapter)`` and ``after(adapter)`` around every
        adaptation step (observers such as
        :class:`~s4t_mm.engine.hooks.TaskSyncHook` read
        :attr:`last_losses` after it)."""
        self._step_callbacks.append((before, after))

    def set_mode(self) -> None:
        """Put the model in the mode adaptation runs in."""
        self.model.train(self.norm_policy == 'batch_stats')

    def adapt(self, inputs: torch.Tensor, steps: int,
              seed: Optional[int] = None) -> None:
        """``steps`` adaptation steps on one unlabeled batch.

        With ``seed``, the objective's random draws come from a generator
        seeded with it (:attr:`generator`); otherwise from torch's global
        generator.

        A batch of one image cannot give BatchNorm meaningful batch
        statistics; with ``norm_policy='batch_stats'`` such a batch is
        adapted with the source running statistics instead, with a warning.

        Once adaptation is stopped (:attr:`stopped`) the steps are not run;
        they are counted in ``stats['steps_not_run']``.
        """
        if self._stopped:
            self.stats['steps_not_run'] += steps
            return
        self.generator = None if seed is None else torch.Generator(
            inputs.device).manual_seed(seed)
        if self.channels_last:
            inputs = inputs.contiguous(memory_format=torch.channels_last)
        was_training = self.model.training
        self.set_mode()
        if inputs.shape[0] == 1 and self.norm_policy == 'batch_stats':
            self._warn_single_image()
            self.model.eval()
        try:
            with torch.enable_grad():
                for done in range(steps):
                    if self._stopped:
                        self.stats['steps_not_run'] += steps - done
                        break
                    self._observed_step(inputs)
        finally:
            self.model.train(was_training)
        if self._on_device:
            self._read_pending()
        elif self.guard_non_finite and steps > 0 and not self._stopped:
            self._check_last_step()

    def _observed_step(self, inputs: torch.Tensor) -> None:
        for before, _ in self._step_callbacks:
            if before is not None:
                before(self)
        self.step(inputs)
        for _, after in self._step_callbacks:
            if after is not None:
                after(self)

    def _warn_single_image(self) -> None:
        if not self.stats['single_image_batches']:
            print_log(
                f'{type(self).__name__}: a batch of one image cannot give '
                'batch statistics; normalisation layers use the source '
                'running statistics for such batches (use batch_size >= 2 '
                "or norm_policy='source_stats')", logger='current', level=30)
        self.stats['single_image_batches'] += 1

    def step(self, inputs: torch.Tensor) -> None:
        """One adaptation step on ``inputs``.

        The objective's forward pass comes first; then, with one host
        synchronisation, the loss terms, the previous step's gradients and
        the current parameters and statistics are checked. A failure
        restores the last good state and skips the step; otherwise the
        current state becomes the last good one and the step is taken.
        """
        self._step_index += 1
        if not self.uses_gradients:
            with torch.no_grad():
                self.objective(self.model, inputs)
            self.stats['steps'] += 1
            self._stepped = True  # checked at the end of adapt()
            return
        if self.amp == 'fp16' and inputs.device.type != 'cuda':
            raise ValueError("amp='fp16' needs a CUDA device; use "
                             "amp='bf16' on the CPU")
        with self.optim_wrapper.optim_context(self.model):
            losses = self.objective(self.model, inputs)
        loss = sum(losses.values())
        terms = torch.stack([v.detach().float() for v in losses.values()])
        if self._on_device:
            self._device_guarded_step(loss, list(losses), terms)
            return
        values, failure = self._check(terms)
        self.last_losses = dict(zip(losses, values))
        if failure is not None:
            self._fail(failure)
            return
        if self._good is not None:
            self._good.update()
            self._good_valid = True
            if self._stepped:  # the previous step's result is good
                self._failures = 0
        self._grad_norm = None
        self.optim_wrapper.update_params(loss)
        self.stats['steps'] += 1
        self._stepped = True
        self._restored = False

    def _device_guarded_step(self, loss: torch.Tensor, names: List[str],
                             terms: torch.Tensor) -> None:
        """Take the step, then keep its result or undo it on the device
        (``guard_mode='device'``); nothing here waits for the device."""
        self._last_terms = (names, terms)
        self._grad_norm = None
        self.optim_wrapper.update_params(loss)
        finite = [torch.isfinite(self._grad_norm) if self._grad_norm
                  is not None else terms.new_ones((), dtype=torch.bool)]
        for tensors in ([p for _, p in self.adapted], self._checked_buffers):
            finite.append(torch.isfinite(_norm_sum(tensors)) if tensors
                          else finite[0].new_ones(()))
        finite.append(torch.isfinite(terms).all())
        flags = torch.stack(finite)
        keep = flags.all()
        self._good.keep_or_restore(keep)
        states = [v for state in self.optimizer.state.values()
                  for v in state.values() if torch.is_tensor(v) and
                  v.is_floating_point() and v.device == keep.device]
        if states:  # a failed step leaves a fresh optimizer's state
            with torch.no_grad():
                flat = torch.cat([v.reshape(-1) for v in states])
                flat = torch.where(keep, flat, 0)
                torch._foreach_copy_(
                    states, [f.view(v.shape) for f, v in zip(
                        flat.split([v.numel() for v in states]), states)])
        self._pending.append((self._step_index, flags))
        self.stats['steps'] += 1  # taken back for failures when read

    def _read_pending(self) -> None:
        """Read the flags of the steps run in ``'device'`` mode (one
        synchronisation), count and list the failures and stop the domain
        after ``max_consecutive_failures`` failed steps at the end."""
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        rows = torch.stack([flags for _, flags in pending]).tolist()
        kinds = list(FAILURE_COUNTERS)[:4]
        name = type(self).__name__
        for (index, _), row in zip(pending, rows):
            failed = [k for k, ok in zip(kinds, row) if not ok]
            if not failed:
                self._failures = 0
                self._good_valid = True
                self._restored = False
                continue
            event = failed[0]
            action = 'restored_last_good' if self._good_valid \
                else 'restored_source'
            self.stats['steps'] -= 1
            self.stats[FAILURE_COUNTERS[event]] += 1
            self.stats[action] += 1
            self._failures += 1
            self._restored = True
            self.events.append(dict(step=index, event=event, action=action))
            print_log(f'{name}: {event.replace("_", " ")} at adaptation '
                      f'step {index}; {action.replace("_", " ")} state '
                      '(undone on the device)', logger='current', level=30)
        if self._failures >= self.max_consecutive_failures and \
                not self._stopped:
            self._stop()

    def _stop(self) -> None:
        name = type(self).__name__
        self._stopped = True
        self.stats['stopped'] += 1
        self.events.append(dict(step=self._step_index,
                                event='consecutive_failures',
                                action='stopped'))
        print_log(f'{name}: {self._failures} consecutive failures; '
                  'adaptation stops for the rest of this domain',
                  logger='current', level=30)

    def _check(self, loss_terms: Optional[torch.Tensor] = None
               ) -> Tuple[List[float], Optional[str]]:
        """The loss terms as floats and the first failure (a key of
        :data:`FAILURE_COUNTERS`) or None, read with one synchronisation.

        Without the guard only the loss is checked. The gradients are those
        the last step taken applied (none after a restore or reset); with a
        loss scaler, non-finite gradients are the scaler's business (it
        skips such steps, so the optimizer never sees them, and lowers the
        scale).
        """
        parts, kinds = [], []
        if self.guard_non_finite:
            if self._stepped and self._grad_norm is not None:
                parts.append(self._grad_norm[None])
                kinds.append('non_finite_gradients')
            for kind, tensors in (
                    ('non_finite_parameters', [p for _, p in self.adapted]),
                    ('non_finite_buffers', self._checked_buffers)):
                if tensors:
                    parts.append(_norm_sum(tensors)[None])
                    kinds.append(kind)
        if loss_terms is not None:
            parts.append(loss_terms)
        if not parts:
            return [], None
        values = torch.cat(parts).tolist()
        checks, losses = values[:len(kinds)], values[len(kinds):]
        for kind, value in zip(kinds, checks):
            if not math.isfinite(value):
                return losses, kind
        if not math.isfinite(sum(losses)):
            return losses, 'non_finite_loss'
        return losses, None

    def _check_last_step(self) -> None:
        """Check what the last step of :meth:`adapt` left (its loss is only
        seen at the next step); for methods without gradients this makes
        the previous state the last good one."""
        if not self._stepped:
            return
        _, failure = self._check()
        if failure is not None:
            self._fail(failure)
        elif not self.uses_gradients:
            self._good.update()
            self._good_valid = True
            self._failures = 0
            self._stepped = False

    def _fail(self, event: str, **info) -> None:
        name = type(self).__name__
        self.stats[FAILURE_COUNTERS[event]] += 1
        if not self.guard_non_finite:
            action = 'none' if event == 'non_finite_predictions' \
                else 'skipped'
            self.events.append(dict(step=self._step_index, event=event,
                                    action=action, **info))
            print_log(f'{name}: {event.replace("_", " ")} at adaptation '
                      f'step {self._step_index} (guard_non_finite is off; '
                      f'action: {action})', logger='current', level=30)
            return
        # The last good state was seen with a finite loss in the adaptation
        # mode; if its own predictions fail, only the source state is left.
        if self._good_valid and not (
                self._restored and event == 'non_finite_predictions'):
            self._good.restore()
            action = 'restored_last_good'
        else:
            self.snapshot.restore()
            self._good_valid = False
            action = 'restored_source'
        self._restored = True
        self._forget_optimizer_state()
        self._stepped = False
        self._failures += 1
        self.stats[action] += 1
        self.events.append(dict(step=self._step_index, event=event,
                                action=action, **info))
        print_log(f'{name}: {event.replace("_", " ")} at adaptation step '
                  f'{self._step_index}; {action.replace("_", " ")} state',
                  logger='current', level=30)
        if self._failures >= self.max_consecutive_failures and \
                not self._stopped:
            self._stop()

    def _forget_optimizer_state(self) -> None:
        self._grad_norm = None
        if self.optimizer is not None:
            self.optimizer.state.clear()
            self.optim_wrapper.zero_grad(set_to_none=True)


def _norm_sum(tensors: Sequence[torch.Tensor]) -> torch.Tensor:
    """The sum of the tensors' L2 norms, one fused kernel, no host
    synchronisation: NaN and +-inf propagate into it (values above ~1e19
    overflow it too, which is exploded anyway)."""
    return torch.stack(torch._foreach_norm(tensors)).float().sum()


def _parameter_tree(named: Sequence[Tuple[str, nn.Parameter]]) -> nn.Module:
    """A module holding the ``named`` parameters under their names (the
    same tensors, not copies), for mmengine's optimizer wrapper builder:
    its ``paramwise_cfg`` custom keys then match those names."""
    root = nn.Module()
    for name, param in named:
        *path, leaf = name.split('.')
        module = root
        for part in path:
            if part not in module._modules:
                module.add_module(part, nn.Module())
            module = module._modules[part]
        module.register_parameter(leaf, param)
    return root


def named_parameters_of(model: nn.Module, prefixes: Sequence[str]
                        ) -> List[Tuple[str, nn.Parameter]]:
    """Trainable parameters of the submodules named by ``prefixes``
    (``'backbone'``, ``'relation_predictor.compressor'``, ...).

    A prefix whose module is None (e.g. a model without a neck) selects
    nothing; one that names no attribute of the model is an error.
    """
    modules = dict(model.named_modules())
    selected = []
    for prefix in prefixes:
        module = modules.get(prefix)
        if module is None:
            parent, _, attr = prefix.rpartition('.')
            owner = modules.get(parent) if parent else model
            if owner is None or not hasattr(owner, attr):
                children = [n for n, _ in model.named_children()]
                raise ValueError(f'no module {prefix!r} in the model; its '
                                 f'modules are {children}')
            continue
        selected += [(f'{prefix}.{n}', p)
                     for n, p in module.named_parameters() if p.requires_grad]
    return selected


def norm_layers(model: nn.Module) -> List[Tuple[str, nn.Module]]:
    """BatchNorm/InstanceNorm/SyncBN, GroupNorm and LayerNorm layers."""
    kinds = (_NormBase, nn.GroupNorm, nn.LayerNorm)
    return [(n, m) for n, m in model.named_modules() if isinstance(m, kinds)]
