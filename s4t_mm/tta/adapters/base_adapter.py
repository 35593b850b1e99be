"""What every test-time adaptation method shares: which parameters move,
one adaptation step, snapshot and reset."""
import contextlib
import math
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmengine.logging import print_log
from mmengine.registry import OPTIMIZERS
from torch.nn.modules.batchnorm import _NormBase

from ..snapshot import StateSnapshot

NORM_POLICIES = ('batch_stats', 'source_stats')
AMP_DTYPES = {None: None, 'bf16': torch.bfloat16, 'fp16': torch.float16}


class BaseAdapter:
    """Base class of test-time adaptation methods.

    A method says which parameters it adapts (:meth:`select_parameters`) and
    what it minimises on an unlabeled batch (:meth:`objective`); the base
    class owns the rest:

    - :meth:`bind` attaches to a model, builds the optimizer over the
      selected parameters and snapshots the source state (the selected
      parameters, every buffer, the optimizer state);
    - :meth:`adapt` runs gradient steps on a batch of *normalised input
      tensors* (labels never reach an adapter);
    - :meth:`reset` restores the snapshot in place, bitwise.

    A step whose loss is not finite is skipped, and a step that leaves a
    parameter non-finite is undone (``guard_non_finite``); both are counted
    in :attr:`stats`.

    Args:
        optimizer: optimizer config over the selected parameters, e.g.
            ``dict(type='SGD', lr=2e-5, weight_decay=1e-6)``.
        norm_policy: ``'batch_stats'``: normalisation layers use (and update)
            batch statistics while adapting, as in the S4T reference;
            ``'source_stats'``: they keep the source running statistics.
        guard_non_finite: undo steps that produce non-finite parameters.
        amp: mixed precision of the objective: None, ``'bf16'`` (CPU or
            GPU) or ``'fp16'`` (GPU, with dynamic loss scaling).
        channels_last: convert the model (at :meth:`bind`) and the adapted
            batches to the channels-last memory format; on CPUs this makes
            the convolutions of an S4T step markedly faster
            (docs/benchmarks.md). Values are unchanged.
    """

    #: The method does gradient steps; BN-adapt-like methods set False.
    uses_gradients = True

    def __init__(self,
                 optimizer: Optional[dict] = None,
                 norm_policy: str = 'batch_stats',
                 guard_non_finite: bool = True,
                 amp: Optional[str] = None,
                 channels_last: bool = False):
        if norm_policy not in NORM_POLICIES:
            raise ValueError(f'unknown norm_policy {norm_policy!r}; valid: '
                             f'{", ".join(NORM_POLICIES)}')
        self.optimizer_cfg = dict(optimizer or dict(type='SGD', lr=2e-5,
                                                    weight_decay=1e-6))
        if amp not in AMP_DTYPES:
            raise ValueError(f'unknown amp {amp!r}; valid: '
                             f'{", ".join(map(str, AMP_DTYPES))}')
        self.norm_policy = norm_policy
        self.guard_non_finite = guard_non_finite
        self.amp = amp
        self.channels_last = channels_last
        self.scaler: Optional[torch.amp.GradScaler] = None
        # Random draws of an objective (e.g. S4T's patch masks) come from
        # this generator, seeded per batch by the driver (see
        # :meth:`adapt`), so results do not depend on how batches are
        # ordered or sharded across processes.
        self.generator: Optional[torch.Generator] = None
        self.model: Optional[nn.Module] = None
        self.optimizer: Optional[torch.optim.Optimizer] = None
        self.stats = dict(steps=0, resets=0, skipped_non_finite_loss=0,
                          undone_non_finite_params=0, single_image_batches=0)
        self.last_losses: Dict[str, float] = {}

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
            cfg = dict(self.optimizer_cfg)
            cfg['params'] = params
            self.optimizer = OPTIMIZERS.build(cfg)
        buffers = [(n, b) for n, b in model.named_buffers()]
        self.snapshot = StateSnapshot(named + buffers)
        self._pre_step = StateSnapshot(named) if (
            self.guard_non_finite and self.uses_gradients) else None
        print_log(
            f'{type(self).__name__}: adapting {len(params)} tensors '
            f'({sum(p.numel() for p in params):,} values), norm policy '
            f'{self.norm_policy}', logger='current')
        return self

    def reset(self) -> None:
        """Restore the source state in place (bitwise) and forget the
        optimizer's state (momentum etc.)."""
        self.snapshot.restore()
        if self.optimizer is not None:
            self.optimizer.state.clear()
        self.scaler = None  # a fresh loss scale, created at the next step
        self.stats['resets'] += 1

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
        """
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
                for _ in range(steps):
                    self.step(inputs)
        finally:
            self.model.train(was_training)

    def _warn_single_image(self) -> None:
        if not self.stats['single_image_batches']:
            print_log(
                f'{type(self).__name__}: a batch of one image cannot give '
                'batch statistics; normalisation layers use the source '
                'running statistics for such batches (use batch_size >= 2 '
                "or norm_policy='source_stats')", logger='current', level=30)
        self.stats['single_image_batches'] += 1

    def step(self, inputs: torch.Tensor) -> None:
        if not self.uses_gradients:
            with torch.no_grad():
                self.objective(self.model, inputs)
            self.stats['steps'] += 1
            return
        with self._autocast(inputs.device):
            losses = self.objective(self.model, inputs)
        loss = sum(losses.values())
        values = torch.stack([v.detach().float()
                              for v in losses.values()]).tolist()
        self.last_losses = dict(zip(losses, values))
        loss_value = sum(values)
        if not math.isfinite(loss_value):
            self.stats['skipped_non_finite_loss'] += 1
            print_log(f'non-finite adaptation loss {loss_value}; step '
                      'skipped', logger='current', level=30)
            return
        if self._pre_step is not None:
            self._pre_step.update()
        self.optimizer.zero_grad(set_to_none=True)
        if self.scaler is None:
            loss.backward()
            self.optimizer.step()
        else:
            self.scaler.scale(loss).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
        self.stats['steps'] += 1
        if self._pre_step is not None and not self._params_finite():
            self._pre_step.restore()
            self.optimizer.state.clear()
            self.stats['undone_non_finite_params'] += 1
            print_log('adaptation step produced non-finite parameters; '
                      'undone', logger='current', level=30)

    def _autocast(self, device: torch.device):
        dtype = AMP_DTYPES[self.amp]
        if dtype is None:
            return contextlib.nullcontext()
        if dtype is torch.float16 and device.type != 'cuda':
            raise ValueError("amp='fp16' needs a CUDA device; use "
                             "amp='bf16' on the CPU")
        if dtype is torch.float16 and self.scaler is None:
            self.scaler = torch.amp.GradScaler('cuda')
        return torch.autocast(device.type, dtype=dtype)

    def _params_finite(self) -> bool:
        # One fused L2 norm per tensor: NaN and +-inf propagate into it (a
        # finite tensor above ~1e19 overflows too, which is broken anyway).
        norms = torch._foreach_norm([p for _, p in self.adapted])
        return bool(torch.isfinite(torch.stack(norms)).all())


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
