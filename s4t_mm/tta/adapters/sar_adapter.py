"""SAR for dense prediction: reliable, sharpness-aware entropy minimisation
with model recovery."""
import math
from typing import Callable, Dict, Optional, Sequence

import torch
import torch.nn as nn
from mmengine.logging import print_log
from torch.func import functional_call

from s4t_mm.registry import ADAPTERS
from .tent_adapter import TentAdapter, task_logits


class _Bound(nn.Module):
    """``fn(model, *args)`` as a module, so that ``functional_call`` can run
    any function of the model, not only its ``forward``."""

    def __init__(self, model: nn.Module, fn: Callable):
        super().__init__()
        self.model = model
        self.fn = fn

    def forward(self, *args):
        return self.fn(self.model, *args)


def stateless_call(model: nn.Module, parameters: Dict[str, torch.Tensor],
                   fn: Callable, *args):
    """``fn(model, *args)`` with ``parameters`` (name in ``model``: tensor)
    in place of the model's own, and with copies of its buffers, so the call
    writes no state of the model (a BatchNorm in train mode updates the
    copies of its running statistics, not the model's). The parameters
    keep their autograd graph: a loss of the result differentiates through
    them."""
    bound = _Bound(model, fn)
    values = {f'model.{n}': t for n, t in parameters.items()}
    buffers = {f'model.{n}': b.clone() for n, b in model.named_buffers()}
    return functional_call(bound, (values, buffers), args)


def softmax_entropy(logits: torch.Tensor) -> torch.Tensor:
    """(N, C, ...) logits -> (N, ...) Shannon entropy of their softmax."""
    log_p = logits.log_softmax(dim=1)
    return -(log_p.exp() * log_p).sum(dim=1)


def masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The mean of ``values`` where ``mask``; 0 (with a gradient graph)
    where nothing is kept, so a step on it moves nothing."""
    return (values * mask).sum() / mask.sum().clamp(min=1)


@ADAPTERS.register_module()
class SarAdapter(TentAdapter):
    """Sharpness-aware and reliable entropy minimisation (Niu et al.,
    "Towards Stable Test-Time Adaptation in Dynamic Wild World", ICLR 2023)
    on the pixels of one categorical task, adapting the affine parameters of
    the normalisation layers as TENT does.

    One step, per pixel where the paper works per image:

    1. reliable pixels: entropy ``E < E0 = entropy_margin * ln(C)`` (paper:
       ``0.4 * ln 1000`` on ImageNet); ``L1`` is their mean entropy;
    2. the sharpness-aware point: ``e = rho * g / (||g|| + 1e-12)`` with
       ``g = dL1/dtheta`` over all adapted parameters (SAM, paper
       ``rho = 0.05``);
    3. the loss is the mean entropy at ``theta + e`` of the pixels reliable
       at both points (the paper's second filter). Its gradient with respect
       to ``theta`` is SAM's gradient, and the optimizer wrapper applies it
       at ``theta``: the perturbed point is only ever passed to a
       functional forward (:func:`stateless_call`), never written into the
       model, so the non-finite guard and the snapshots see real states
       only, and the running statistics are updated once per step, by the
       forward at ``theta``;
    4. recovery: a moving average of that loss (``0.9 * old + 0.1 * new``;
       a step that kept no pixel or had a non-finite loss leaves it) below
       ``reset_threshold`` (paper ``e_m = 0.2``) means the model collapsed
       to trivial confident predictions: the source state is restored
       (:meth:`reset`, which also forgets the average and the optimizer's
       state), counted in ``stats['recoveries']`` (and, being resets, in
       ``stats['resets']``). Deciding it reads the average once per step
       (the original's ``.item()`` does too).

    Only the categorical task has an entropy: the regression tasks (depth,
    normals, edges) are adapted only through what they share with it, the
    backbone (and neck) normalisation layers. SAR is single-model, with no
    teacher to be consistent with.

    The paper's other settings: SGD with momentum 0.9, lr 0.00025 for a
    batch of 64 on ResNet-50-GN (0.001 for ViT-Base), doubled for batches
    of one; the top layers are not adapted (ResNet ``layer4``, ViT blocks
    9-11 and the final norm); normalisation uses batch statistics. The
    defaults below are those; ``frozen_modules`` names the top layers of
    our model in the config.

    Args:
        task: the categorical task whose entropy is minimised.
        entropy_margin: E0 as a fraction of ln(C) (paper 0.4).
        rho: radius of the sharpness-aware neighbourhood (paper 0.05).
        reset_threshold: e_m, the loss average below which the source state
            is restored (paper 0.2; an absolute entropy, in nats).
        ema_momentum: weight of the old value in the loss average (paper
            0.9).
        frozen_modules: modules (e.g. ``'backbone.layer4'``) whose
            normalisation layers are not adapted.
        **kwargs: see :class:`BaseAdapter` (default optimizer SGD lr
            0.00025, momentum 0.9, as the paper).
    """

    def __init__(self, task: str = 'semseg', entropy_margin: float = 0.4,
                 rho: float = 0.05, reset_threshold: float = 0.2,
                 ema_momentum: float = 0.9,
                 frozen_modules: Sequence[str] = (), **kwargs):
        kwargs.setdefault('optimizer', dict(type='SGD', lr=0.00025,
                                            momentum=0.9))
        super().__init__(task=task, **kwargs)
        if not 0.0 < entropy_margin <= 1.0:
            raise ValueError(f'entropy_margin must lie in (0, 1], got '
                             f'{entropy_margin}')
        if rho < 0:
            raise ValueError(f'rho must be >= 0, got {rho}')
        if not 0.0 <= ema_momentum < 1.0:
            raise ValueError(f'ema_momentum must lie in [0, 1), got '
                             f'{ema_momentum}')
        self.entropy_margin = entropy_margin
        self.rho = rho
        self.reset_threshold = reset_threshold
        self.ema_momentum = ema_momentum
        self.frozen_modules = tuple(frozen_modules)
        #: The pixels the last step's loss kept, (N, h, w) bool.
        self.kept: Optional[torch.Tensor] = None
        # the loss average on the device; NaN until a step kept a pixel
        self._ema: Optional[torch.Tensor] = None
        self.stats['recoveries'] = 0
        self.register_step_callback(after=SarAdapter._recover_if_collapsed)

    @property
    def loss_ema(self) -> Optional[float]:
        """The moving average of the loss (None before a step kept a
        pixel, and after a reset)."""
        value = None if self._ema is None else float(self._ema)
        return None if value is None or math.isnan(value) else value

    def select_parameters(self, model):
        modules = dict(model.named_modules())
        unknown = [m for m in self.frozen_modules if m not in modules]
        if unknown:
            raise ValueError(
                f'SarAdapter: frozen_modules {unknown} are not modules of '
                f'the model; its top-level modules are '
                f'{[n for n, _ in model.named_children()]}')
        prefixes = tuple(f'{m}.' for m in self.frozen_modules)
        return [(n, p) for n, p in super().select_parameters(model)
                if not n.startswith(prefixes)]

    def reset(self) -> None:
        super().reset()
        self._ema = None

    def objective(self, model, inputs) -> Dict[str, torch.Tensor]:
        logits = task_logits(model, inputs, self.task)
        entropy = softmax_entropy(logits)
        e0 = self.entropy_margin * math.log(logits.shape[1])
        reliable = entropy.detach() < e0
        params = [p for _, p in self.adapted]
        grads = torch.autograd.grad(masked_mean(entropy, reliable), params,
                                    allow_unused=True)
        grads = [torch.zeros_like(p) if g is None else g
                 for g, p in zip(grads, params)]
        scale = self.rho / (torch.stack(
            torch._foreach_norm(grads)).norm() + 1e-12)
        perturbed = {n: p + g * scale
                     for (n, p), g in zip(self.adapted, grads)}
        entropy = softmax_entropy(stateless_call(
            model, perturbed, task_logits, inputs, self.task))
        kept = reliable & (entropy.detach() < e0)
        loss = masked_mean(entropy, kept)
        self.kept = kept
        self._update_ema(loss.detach(), kept.any())
        return {f'{self.task}.sar': loss}

    def _update_ema(self, loss: torch.Tensor, any_kept: torch.Tensor
                    ) -> None:
        """The loss average, on the device (no synchronisation here)."""
        if self._ema is None:
            self._ema = torch.full_like(loss, float('nan'))
        blended = torch.where(
            torch.isnan(self._ema), loss,
            self.ema_momentum * self._ema + (1 - self.ema_momentum) * loss)
        self._ema = torch.where(any_kept & torch.isfinite(loss), blended,
                                self._ema)

    def adapt(self, inputs: torch.Tensor, steps: int,
              seed: Optional[int] = None) -> None:
        before = self.stats['recoveries']
        super().adapt(inputs, steps, seed=seed)
        recovered = self.stats['recoveries'] - before
        if recovered:
            print_log(f'SarAdapter: the loss average fell below '
                      f'{self.reset_threshold} {recovered} time(s) in '
                      f'{steps} steps; the source state was restored each '
                      'time', logger='current')

    def _recover_if_collapsed(self) -> None:
        ema = self.loss_ema
        if ema is not None and ema < self.reset_threshold:
            self.reset()
            self.stats['recoveries'] += 1
