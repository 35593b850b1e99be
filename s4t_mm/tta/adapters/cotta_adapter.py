"""CoTTA for multi-task dense prediction: a mean teacher, augmentation-
averaged teacher targets and stochastic restore to the source weights."""
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn as nn

from s4t_mm.registry import ADAPTERS
from .base_adapter import BaseAdapter, named_parameters_of
from .sar_adapter import stateless_call

#: Photometric jitter of CoTTA's strong augmentation (its
#: ``get_tta_transforms``, not ``soft``), as (low, high) factors.
BRIGHTNESS = (0.6, 1.4)
CONTRAST = (0.7, 1.3)
SATURATION = (0.5, 1.5)
GAMMA = (0.7, 1.3)
NOISE_STD = 0.005  # of the [0, 1] pixel range


def task_outputs(model: nn.Module, inputs: torch.Tensor,
                 task: str) -> Dict[str, torch.Tensor]:
    """Raw outputs per task at the input size: an s4t_mm model's ``tensor``
    mode, or an mmseg segmentor's logits under the name ``task``."""
    out = model(inputs, mode='tensor')
    return {task: out} if torch.is_tensor(out) else out


@ADAPTERS.register_module()
class CottaAdapter(BaseAdapter):
    """Continual test-time adaptation (Wang et al., "Continual Test-Time
    Domain Adaptation", CVPR 2022), for every task of a multi-task model.

    - Mean teacher: an exponential moving average of the adapted parameters,
      ``teacher = alpha * teacher + (1 - alpha) * student`` after every
      optimizer step (paper ``alpha = 0.999``). Its tensors are the
      adapter's own (:attr:`teacher`); the teacher predicts through a
      functional forward of the model with them (no second model), with
      copies of the model's buffers, so it normalises as the student does
      without updating the student's statistics. They are in the snapshot:
      :meth:`reset` and the non-finite guard restore them with the student,
      bitwise.
    - Augmentation-averaged targets: when the *source* model's mean
      confidence on the batch (max class probability of ``task``, over the
      images and pixels) is below ``confidence_threshold``, the teacher's
      target is the mean of its raw outputs over ``num_augmentations``
      augmented copies of the batch (paper: 32), else its output on the
      batch itself. The source model is the snapshot's weights, as the
      original's frozen "anchor" copy. Deciding reads the confidence once
      per step, so the augmented passes run only when they are used (as the
      original's ImageNet code). The augmentations are the photometric part
      of CoTTA's (brightness, contrast, saturation, gamma, Gaussian noise;
      grey = the channel mean), on pixels recovered from the data
      preprocessor's mean and std (a [0, 255] range). Its geometric part
      (affine, flip) and blur are left out: a dense target would have to be
      warped back, and each task's output transforms differently (a flip
      negates the x component of a normal).
    - Stochastic restore: after each step every adapted element returns to
      its source value with probability ``restore_prob`` (paper 0.01 on
      CIFAR, 0.001 on ImageNet).

    The loss, per task ``t`` weighted by ``loss_weights[t]``: for ``task``
    (categorical) CoTTA's cross entropy between the teacher's softmax and
    the student's log-softmax, per pixel; for every other task (depth,
    normals, edges) the teacher consistency of the regression outputs, the
    L1 distance between the student's and the teacher's predictions
    (``model.activated_outputs``: depth, unit normals, edge probabilities).

    The other settings of the paper: Adam, lr 1e-3, betas (0.9, 0.999), no
    weight decay, all parameters adapted, one step per batch, confidence
    thresholds 0.92 (CIFAR10-C) and 0.72 (CIFAR100-C) in the released
    code. Unlike the original, predictions are the adapted (student)
    model's, as for every adapter here; CoTTA reports the teacher's.

    Args:
        task: the categorical task (cross entropy, source confidence).
        teacher_momentum: alpha of the teacher average.
        restore_prob: probability per element and step of a restore.
        confidence_threshold: source confidence below which teacher
            targets are augmentation-averaged.
        num_augmentations: augmented copies averaged (paper 32).
        loss_weights: weight of each task's term; default 1 for every task
            of the model; a task left out does not enter the loss.
        adapt_modules: model attributes whose parameters are adapted; None
            adapts every trainable parameter (as CoTTA).
        **kwargs: see :class:`BaseAdapter` (default optimizer Adam lr 1e-3,
            betas (0.9, 0.999), as the paper).
    """

    def __init__(self, task: str = 'semseg', teacher_momentum: float = 0.999,
                 restore_prob: float = 0.01,
                 confidence_threshold: float = 0.92,
                 num_augmentations: int = 32,
                 loss_weights: Optional[Dict[str, float]] = None,
                 adapt_modules: Optional[Sequence[str]] = None, **kwargs):
        kwargs.setdefault('optimizer', dict(type='Adam', lr=1e-3,
                                            betas=(0.9, 0.999)))
        super().__init__(**kwargs)
        for name, value in (('teacher_momentum', teacher_momentum),
                            ('restore_prob', restore_prob)):
            if not 0.0 <= value <= 1.0:
                raise ValueError(f'{name} must lie in [0, 1], got {value}')
        if num_augmentations < 1:
            raise ValueError(f'num_augmentations must be >= 1, got '
                             f'{num_augmentations}')
        self.task = task
        self.teacher_momentum = teacher_momentum
        self.restore_prob = restore_prob
        self.confidence_threshold = confidence_threshold
        self.num_augmentations = num_augmentations
        self.loss_weights = None if loss_weights is None else dict(
            loss_weights)
        self.adapt_modules = None if adapt_modules is None else tuple(
            adapt_modules)
        #: The teacher's tensors, in the order of :attr:`teacher_names`.
        self.teacher = nn.ParameterList()
        self.teacher_names: List[str] = []
        #: The source model's mean confidence on the last step's batch.
        self.last_confidence: Optional[float] = None
        self.stats['augmented_targets'] = 0
        self._weights: Dict[str, float] = {}
        self._student: List[nn.Parameter] = []
        self._source: List[torch.Tensor] = []

    def select_parameters(self, model):
        if self.adapt_modules is None:
            return [(n, p) for n, p in model.named_parameters()
                    if p.requires_grad]
        return named_parameters_of(model, self.adapt_modules)

    def extra_modules(self):
        return (self.teacher,)

    def bind(self, model):
        heads = getattr(model, 'heads', None)
        tasks = list(heads) if heads is not None else [self.task]
        if self.task not in tasks:
            raise ValueError(f'CottaAdapter: the model has no {self.task!r} '
                             f'head; its heads are {tasks}')
        weights = self.loss_weights if self.loss_weights is not None \
            else dict.fromkeys(tasks, 1.0)
        unknown = sorted(set(weights) - set(tasks))
        if unknown:
            raise ValueError(f'CottaAdapter: loss_weights name unknown '
                             f'task(s) {unknown}; the model has {tasks}')
        self._weights = {t: float(w) for t, w in weights.items() if w}
        named = self.select_parameters(model)
        self.teacher_names = [n for n, _ in named]
        self.teacher = nn.ParameterList([
            nn.Parameter(p.detach().clone(), requires_grad=False)
            for _, p in named])
        super().bind(model)
        saved = self.snapshot.saved()
        self._student = [p for _, p in named]
        self._source = [saved[n] for n in self.teacher_names]
        self.optimizer.register_step_post_hook(self._after_optimizer_step)
        return self

    def objective(self, model, inputs) -> Dict[str, torch.Tensor]:
        student = task_outputs(model, inputs, self.task)
        with torch.no_grad():
            teacher = self._teacher_targets(model, inputs)
        others = [t for t in self._weights if t != self.task]
        if others:
            student_soft = model.activated_outputs(
                {t: student[t] for t in others})
            teacher_soft = model.activated_outputs(
                {t: teacher[t] for t in others})
        terms = {}
        for task, weight in self._weights.items():
            if task == self.task:
                target = teacher[task].softmax(dim=1)
                term = -(target * student[task].log_softmax(dim=1)).sum(
                    dim=1).mean()
            else:
                term = (student_soft[task] - teacher_soft[task]).abs().mean()
            terms[f'{task}.cotta'] = weight * term
        return terms

    def _teacher_targets(self, model, inputs) -> Dict[str, torch.Tensor]:
        """The teacher's raw outputs per task, augmentation-averaged when
        the source model is not confident on ``inputs``."""
        source = stateless_call(model, dict(zip(self.teacher_names,
                                                self._source)),
                                task_outputs, inputs, self.task)
        confidence = source[self.task].softmax(dim=1).amax(dim=1).mean()
        self.last_confidence = float(confidence)
        teacher = dict(zip(self.teacher_names, self.teacher))
        if self.last_confidence >= self.confidence_threshold:
            return stateless_call(model, teacher, task_outputs, inputs,
                                  self.task)
        self.stats['augmented_targets'] += 1
        views = [stateless_call(model, teacher, task_outputs,
                                self.augment(model, inputs), self.task)
                 for _ in range(self.num_augmentations)]
        return {t: torch.stack([v[t] for v in views]).mean(dim=0)
                for t in views[0]}

    def augment(self, model, inputs: torch.Tensor) -> torch.Tensor:
        """A photometrically jittered copy of a normalised (N, C, H, W)
        batch, factors drawn per image from :attr:`generator`."""
        pre = getattr(model, 'data_preprocessor', None)
        mean = getattr(pre, 'mean', None)
        std = getattr(pre, 'std', None)
        if mean is None or std is None:
            mean, std = inputs.new_zeros(()), inputs.new_ones(())
        x = (inputs * std + mean) / 255.0
        n = x.shape[0]

        def factor(low_high):
            low, high = low_high
            u = torch.rand(n, 1, 1, 1, generator=self.generator,
                           device=x.device, dtype=x.dtype)
            return low + (high - low) * u

        x = x * factor(BRIGHTNESS)
        x = x.mean(dim=(1, 2, 3), keepdim=True).lerp(x, factor(CONTRAST))
        x = x.mean(dim=1, keepdim=True).lerp(x, factor(SATURATION))
        x = x.clamp(0, 1).pow(factor(GAMMA))
        noise = torch.randn(x.shape, generator=self.generator,
                            device=x.device, dtype=x.dtype)
        x = (x + NOISE_STD * noise).clamp(0, 1)
        return (x * 255.0 - mean) / std

    @torch.no_grad()
    def _after_optimizer_step(self, optimizer, args, kwargs) -> None:
        """The teacher average, then the stochastic restore (the original's
        order: the teacher sees the step before the restore)."""
        teacher = list(self.teacher)
        torch._foreach_mul_(teacher, self.teacher_momentum)
        torch._foreach_add_(teacher, self._student,
                            alpha=1 - self.teacher_momentum)
        if self.restore_prob == 0:
            return
        for param, source in zip(self._student, self._source):
            restore = torch.rand(param.shape, generator=self.generator,
                                 device=param.device) < self.restore_prob
            param.copy_(torch.where(restore, source, param))
