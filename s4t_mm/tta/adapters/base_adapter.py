"""What every test-time adaptation method shares: which parameters move,
one adaptation step, snapshot and reset."""
import copy
from collections import ChainMap
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmengine.logging import print_log
from mmengine.optim import OptimWrapper, build_optim_wrapper

from ..guard import FAILURE_COUNTERS, NonFiniteGuard
from ..norm_policies import (BaseNormPolicy, BlendedStatsPolicy,
                             build_norm_policy, norm_layers)
from ..snapshot import StateSnapshot

# also what other modules import from here (the guard's and the policies')
__all__ = ['AMP_WRAPPERS', 'BaseAdapter', 'FAILURE_COUNTERS',
           'named_parameters_of', 'norm_layers']

#: The optimizer wrapper each ``amp`` value steps through: fp32, bf16 under
#: ``torch.autocast`` on the model's device (CPU or GPU, no loss scaling
#: needed), fp16 with dynamic loss scaling (mmengine's, CUDA only).
AMP_WRAPPERS = {
    None: dict(type='OptimWrapper'),
    'bf16': dict(type='s4t_mm.AutocastOptimWrapper', dtype='bfloat16'),
    'fp16': dict(type='AmpOptimWrapper', dtype='float16'),
}


class BaseAdapter:
    """Base class of test-time adaptation methods.

    A method says which parameters it adapts (:meth:`select_parameters`) and
    what it minimises on an unlabeled batch (:meth:`objective`); the base
    class owns the rest:

    - :meth:`bind` attaches to a model, builds an mmengine optimizer
      wrapper over the selected parameters (:attr:`optim_wrapper`: AMP,
      gradient clipping and accumulation are mmengine's) and snapshots the
      source state (the selected parameters, every buffer);
    - :meth:`adapt` runs gradient steps on a batch of *normalised input
      tensors* (labels never reach an adapter), normalising as
      :attr:`norm_policy` (:mod:`s4t_mm.tta.norm_policies`) says;
    - :meth:`reset` restores the snapshot in place, bitwise.

    Each step goes through :attr:`guard` (:mod:`s4t_mm.tta.guard`): a
    non-finite loss, gradient, parameter, statistic or (reported by the
    caller, :meth:`recover`) prediction never stays in the model; failures
    are counted (the guard's counters are part of :attr:`stats`) and listed
    in :attr:`events`, and ``max_consecutive_failures`` in a row stop
    adaptation until the next :meth:`begin_domain`.

    Args:
        optimizer: optimizer config over the selected parameters, e.g.
            ``dict(type='SGD', lr=2e-5, weight_decay=1e-6)``.
        optim_wrapper: the rest of an mmengine optimizer wrapper config
            (``clip_grad``, ``accumulative_counts``, ``paramwise_cfg`` whose
            ``custom_keys`` match the adapted parameters' names, or a
            ``type``, then without ``amp``).
        norm_policy: a registered normalisation policy, by name or config,
            e.g. ``'batch_stats'`` (batch statistics while adapting, as in
            the S4T reference) or ``'source_stats'``.
        guard_non_finite: undo a failed step (restore the last good
            state); without it nothing is undone, non-finite losses are
            only counted.
        max_consecutive_failures: failed steps in a row after which
            adaptation stops for the rest of the domain.
        amp: mixed precision of the objective, a key of
            :data:`AMP_WRAPPERS`: None, ``'bf16'`` or ``'fp16'`` (GPU).
        channels_last: convert the model and batches to channels-last: same
            values, faster S4T convolutions on CPUs (docs/benchmarks.md).
        min_target_weight: step gating (ours, docs/benchmarks.md): the
            gradient steps run on a batch only where the norm policy's
            mean weight of the batch's statistics over its layers
            (:meth:`~s4t_mm.tta.norm_policies.BaseNormPolicy.report`)
            exceeds this value, in [0, 1); a batch the source statistics
            explain gives an objective nothing to correct, only room to
            drift. None: every batch is stepped on. Needs a blending
            policy (one that reports weights).
    """

    #: The method does gradient steps; BN-adapt-like methods set False.
    uses_gradients = True

    def __init__(self, optimizer: Optional[dict] = None,
                 optim_wrapper: Optional[dict] = None,
                 norm_policy: Union[str, dict] = 'batch_stats',
                 guard_non_finite: bool = True,
                 max_consecutive_failures: int = 3,
                 amp: Optional[str] = None, channels_last: bool = False,
                 min_target_weight: Optional[float] = None):
        self.norm_policy: BaseNormPolicy = build_norm_policy(norm_policy)
        if min_target_weight is not None:
            if not 0.0 <= min_target_weight < 1.0:
                raise ValueError(f'min_target_weight must lie in [0, 1), '
                                 f'got {min_target_weight}')
            if not isinstance(self.norm_policy, BlendedStatsPolicy):
                raise ValueError(
                    f'min_target_weight gates the steps by the weights a '
                    f'blending norm policy reports; '
                    f'{self.norm_policy.name!r} reports none')
        self.min_target_weight = min_target_weight
        self.optimizer_cfg = dict(optimizer or dict(type='SGD', lr=2e-5,
                                                    weight_decay=1e-6))
        #: The non-finite guard, bound to the model by :meth:`bind`.
        self.guard = NonFiniteGuard(guard_non_finite,
                                    max_consecutive_failures,
                                    owner=type(self).__name__)
        if amp not in AMP_WRAPPERS:
            raise ValueError(f'unknown amp {amp!r}; valid: '
                             f'{", ".join(map(str, AMP_WRAPPERS))}')
        self.optim_wrapper_cfg = dict(optim_wrapper or {})
        if amp is not None and 'type' in self.optim_wrapper_cfg:
            raise ValueError(
                f'amp={amp!r} chooses the optimizer wrapper; drop it or '
                f"optim_wrapper's type {self.optim_wrapper_cfg['type']!r}")
        self.amp, self.channels_last = amp, channels_last
        # an objective's random draws (S4T's masks), seeded per batch by
        # adapt(): results do not depend on batch order or sharding
        self.generator: Optional[torch.Generator] = None
        self.model: Optional[nn.Module] = None
        self.optim_wrapper: Optional[OptimWrapper] = None
        self._source_scaler = None  # a fresh loss scaler, for reset()
        #: Counters: the adapter's own (written here), then the guard's.
        self.stats = ChainMap(
            dict(resets=0, single_image_batches=0, steps_not_run=0),
            self.guard.counts)
        # called with the adapter before and after every step
        self._step_callbacks: Tuple[List[Callable], ...] = ([], [])

    # -- what a method defines -------------------------------------------
    def select_parameters(self, model: nn.Module
                          ) -> List[Tuple[str, nn.Parameter]]:
        """(name, parameter) pairs this method adapts."""
        raise NotImplementedError

    def objective(self, model: nn.Module,
                  inputs: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Named loss terms on an unlabeled batch; their sum is minimised.
        Methods without gradient steps run the forward pass whose side
        effects adapt the model (statistics) and return an empty dict."""
        raise NotImplementedError

    def extra_modules(self) -> Sequence[nn.Module]:
        """Modules the method owns and adapts besides the model (e.g. loss
        weights); their parameters join the optimizer and the snapshot."""
        return ()

    # -- shared machinery ------------------------------------------------
    def bind(self, model: nn.Module) -> 'BaseAdapter':
        """Attach to ``model``, snapshot its (source) state, new guard."""
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
        buffers = list(model.named_buffers())
        self.snapshot = StateSnapshot(named + buffers)
        self.guard.bind(self.snapshot, named, buffers, self.optim_wrapper)
        self.norm_policy.bind(model)
        print_log(
            f'{type(self).__name__}: adapting {len(params)} tensors '
            f'({sum(p.numel() for p in params):,} values), norm policy '
            f'{self.norm_policy}', logger='current')
        return self

    @property
    def last_losses(self) -> Dict[str, float]:
        """The last step's loss terms (name: value)."""
        return self.guard.last_losses

    @property
    def events(self) -> List[dict]:
        """The current domain's failures (``step``, ``event``, ``action``)."""
        return self.guard.events

    @property
    def stopped(self) -> bool:
        """Whether adaptation is stopped for the rest of the domain."""
        return self.guard.stopped

    @property
    def optimizer(self) -> Optional[torch.optim.Optimizer]:
        """The torch optimizer in :attr:`optim_wrapper` (or None)."""
        return getattr(self.optim_wrapper, 'optimizer', None)

    def _build_optim_wrapper(self, model: nn.Module, named) -> OptimWrapper:
        """mmengine's optimizer wrapper over the ``named`` parameters, from
        :attr:`optim_wrapper_cfg`, ``optimizer`` and ``amp``."""
        cfg = dict(AMP_WRAPPERS[self.amp])
        if self.amp == 'fp16' and not next(model.parameters()).is_cuda:
            # mmengine's AmpOptimWrapper needs a GPU; the step says so
            cfg = dict(AMP_WRAPPERS[None])
        cfg.update(self.optim_wrapper_cfg)
        cfg.setdefault('optimizer', self.optimizer_cfg)
        wrapper = build_optim_wrapper(_parameter_tree(named), cfg)
        scaler = getattr(wrapper, 'loss_scaler', None)
        self._source_scaler = copy.deepcopy(scaler)
        return wrapper

    def reset(self) -> None:
        """Restore the source state in place (bitwise); forget the optimizer
        state, the loss scale and the norm policy's target estimates."""
        self.snapshot.restore()
        self.guard.reset()
        if self._source_scaler is not None:
            self.optim_wrapper.loss_scaler = copy.deepcopy(
                self._source_scaler)
        self.norm_policy.reset()
        self.stats['resets'] += 1

    def begin_domain(self) -> None:
        """Start a target domain (the guard adapts again, counts steps from
        0, lists new events); the model's state stays (see protocols)."""
        self.guard.begin_domain()

    def recover(self, event: str, **info) -> None:
        """Undo a failure seen outside a step (the hook reports
        ``'non_finite_predictions'``, ``info`` e.g. ``batch=3``), see
        :meth:`~s4t_mm.tta.guard.NonFiniteGuard.recover`."""
        self.guard.recover(event, **info)

    def register_step_callback(self, before: Optional[Callable] = None,
                               after: Optional[Callable] = None) -> None:
        """Call ``before(adapter)`` and ``after(adapter)`` around every
        step (e.g. :class:`~s4t_mm.engine.hooks.TaskSyncHook`, which reads
        :attr:`last_losses` after it)."""
        for fns, fn in zip(self._step_callbacks, (before, after)):
            if fn is not None:
                fns.append(fn)

    def set_mode(self) -> None:
        """Put the model in the mode adaptation runs in (the policy's)."""
        self.norm_policy.set_mode(self.model)

    def adapt(self, inputs: torch.Tensor, steps: int,
              seed: Optional[int] = None) -> None:
        """``steps`` adaptation steps on one unlabeled batch; the
        objective's random draws come from :attr:`generator`, seeded with
        ``seed`` (None: torch's global generator).

        A batch of one image cannot give BatchNorm meaningful batch
        statistics: under a policy that ``uses_batch_statistics`` it adapts
        with the source running statistics, with a warning. Once
        :attr:`stopped`, or where the norm policy's weights do not reach
        ``min_target_weight``, steps count in ``stats['steps_not_run']``.
        """
        if self.stopped:
            self.stats['steps_not_run'] += steps
            return
        self.generator = None if seed is None else torch.Generator(
            inputs.device).manual_seed(seed)
        if self.channels_last:
            inputs = inputs.contiguous(memory_format=torch.channels_last)
        was_training = self.model.training
        self.set_mode()
        if inputs.shape[0] == 1 and self.norm_policy.uses_batch_statistics:
            self._warn_single_image()
            self.model.eval()
        try:
            if steps > 0:
                with torch.no_grad():
                    self.norm_policy.before_steps(self.model, inputs)
                if not self.steps_allowed():
                    self.stats['steps_not_run'] += steps
                    steps = 0
                elif self.uses_gradients:
                    self.norm_policy.begin_steps(self.model)
            with torch.enable_grad():
                for done in range(steps):
                    if self.guard.stopped:
                        self.stats['steps_not_run'] += steps - done
                        break
                    self._observed_step(inputs)
        finally:
            self.norm_policy.after_steps(self.model, inputs,
                                         steps > 0 and self.uses_gradients)
            self.model.train(was_training)
        self.guard.end_adapt()

    def steps_allowed(self) -> bool:
        """Whether the batch the norm policy measured last may be stepped
        on (``min_target_weight``)."""
        return self.min_target_weight is None or \
            self.norm_policy.report().mean_weight > self.min_target_weight

    def _observed_step(self, inputs: torch.Tensor) -> None:
        befores, afters = self._step_callbacks
        for fn in befores:
            fn(self)
        self.step(inputs)
        for fn in afters:
            fn(self)

    def _warn_single_image(self) -> None:
        if not self.stats['single_image_batches']:  # warn once
            print_log(
                f'{type(self).__name__}: a batch of one image cannot give '
                'batch statistics; normalisation layers use the source '
                'running statistics for such batches (use batch_size >= 2 '
                "or norm_policy='source_stats')", logger='current', level=30)
        self.stats['single_image_batches'] += 1

    def step(self, inputs: torch.Tensor) -> None:
        """One adaptation step on ``inputs``: the objective's forward pass,
        then the guard takes and keeps or undoes the step."""
        if not self.uses_gradients:
            with torch.no_grad():
                self.objective(self.model, inputs)
            self.guard.forward_step()
            return
        if self.amp == 'fp16' and inputs.device.type != 'cuda':
            raise ValueError("amp='fp16' needs a CUDA device; use "
                             "amp='bf16' on the CPU")
        with self.optim_wrapper.optim_context(self.model):
            losses = self.objective(self.model, inputs)
        self.guard.step(losses)


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
    (``'backbone'``, ``'relation_predictor.compressor'``, ...); a prefix
    whose module is None (no neck) selects nothing, an unknown one raises.
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
