"""S4T: pull the relation predictor's reconstruction of every task toward the
main heads' current predictions."""
from typing import Dict, Optional, Sequence

import torch
import torch.nn as nn

from s4t_mm.registry import ADAPTERS, MODELS
from s4t_mm.structures import RELATION_SPACES
from ..snapshot import StateSnapshot
from .base_adapter import BaseAdapter, named_parameters_of, norm_layers

WEIGHTINGS = ('squared_task_weights', 'uncertainty')
TASK_BALANCES = (None, 'initial')
PARAMETER_SETS = ('all', 'norm')
STATE_SELECTIONS = ('last', 'best_consistency')
TASK_PAIRINGS = ('consistent', 'reference')

#: The task orders of the S4T reference's configs (github wooseong97/S4T-mtl,
#: ``configs/S4T/pretrain/*.yml`` and ``configs/S4T/ttt/*.yml``) in s4t_mm's
#: task names: (source training, test time). Its test-time model splits the
#: relation predictor's output in the second order, although the output was
#: trained in the first (``task_pairing='reference'``).
REFERENCE_TASK_ORDERS = {
    'nyud_taskonomy': (('semseg', 'depth', 'normals', 'edge'),
                       ('depth', 'edge', 'normals', 'semseg')),
    'pascal_taskonomy': (('semseg', 'normals', 'edge'),
                         ('edge', 'normals', 'semseg')),
    'taskonomy_nyud': (('depth', 'edge', 'normals', 'semseg'),
                       ('semseg', 'depth', 'normals', 'edge')),
}


@ADAPTERS.register_module()
class S4TAdapter(BaseAdapter):
    """The S4T test-time objective.

    For every task t, the relation predictor reconstructs t's output from a
    freshly masked view of all tasks' compressed features; the loss is the L1
    distance to the main head's output, which is detached (the target)::

        squared_task_weights:  lam * sum_t w_t^2 * L1(rel_t, sg(main_t))
        uncertainty:           sum_t 0.5/s_t^2 * lam * L1_t + log(1 + s_t^2)

    ``w_t`` are the source task weights (the model's ``task_weight``, or
    ``task_weights``); both outputs come from the model's
    ``relation_consistency``, at the input size. The reference picks the
    form by the *target* dataset: squared task weights for a NYUD-v2
    target, the uncertainty form (scales ``s_t`` started at 1 and adapted
    with the model) for a Taskonomy target.
    Gradients reach the relation predictor, the compressor and the backbone;
    the main heads get none.

    The defaults are the reference's. The other values of ``compare``,
    ``task_balance``, ``parameters``, ``anchor_weight`` and
    ``select_state`` are ours, options for studying why S4T's gradient
    collapses a model (docs/benchmarks.md):

    Args:
        weighting: ``'squared_task_weights'`` or ``'uncertainty'``.
        loss_weight: lam (default 0.01, as in source training).
        task_weights: w_t per task, used instead of the model's source
            weights (e.g. for a model trained with
            uncertainty weighting, or all 1 for equal weights).
        compare: ``'raw'`` compares raw outputs (logits, unnormalised
            normals, edge logits) as the reference does; ``'activated'``
            compares predictions (``head.activate_soft``: class
            probabilities, unit normals, edge probabilities, depth), whose
            ranges are bounded, so no task can dominate by its logit scale.
        task_balance: None, or ``'initial'``: each task's term is
            ``lam * L1_t / L1_t(first step on the batch)``, with equal task
            weights (the source weights and the uncertainty form are not
            applied), so every task starts at the same loss whatever its
            weight and scale.
        parameters: ``'all'`` adapts every parameter of ``adapt_modules``;
            ``'norm'`` only the affine parameters of their normalisation
            layers (as TENT does).
        anchor_weight: weight of ``sum ||theta - theta_source||^2`` over the
            adapted parameters, which keeps them near the source model.
        adapt_modules: model attributes whose parameters are adapted; e.g.
            ``('backbone', 'neck')`` keeps the relation predictor and the
            compressor frozen, so the source relations cannot be rewritten.
        select_state: ``'last'`` keeps the state after the last step;
            ``'best_consistency'`` scores the objective (without the anchor,
            model in evaluation mode, one fixed mask) before adapting and
            every ``check_interval`` steps, and ends on the state that
            scored lowest: a label-free stop/rollback rule, meaningful when
            the relation predictor is frozen (otherwise it learns to agree
            with anything).
        check_interval: steps between two scorings of ``select_state``.
        task_pairing: ``'consistent'`` compares every main head with the
            reconstruction of its own task, as the paper describes;
            ``'reference'`` with what the reference's test-time model
            compares it with: the reconstructions concatenated in the
            ``reference_pair``'s source-training task order and split in
            its test-time order (:data:`REFERENCE_TASK_ORDERS`), which gives
            most heads another task's channels (docs/experiments.md). Only
            with ``compare='raw'``, as in the reference.
        reference_pair: the pair whose orders ``task_pairing='reference'``
            follows, a key of :data:`REFERENCE_TASK_ORDERS`.
        **kwargs: see :class:`BaseAdapter`.
    """

    def __init__(self,
                 weighting: str = 'squared_task_weights',
                 loss_weight: float = 0.01,
                 task_weights: Optional[Dict[str, float]] = None,
                 compare: str = 'raw',
                 task_balance: Optional[str] = None,
                 parameters: str = 'all',
                 anchor_weight: float = 0.0,
                 adapt_modules: Sequence[str] = ('backbone', 'neck',
                                                 'relation_predictor'),
                 select_state: str = 'last',
                 check_interval: int = 5,
                 task_pairing: str = 'consistent',
                 reference_pair: Optional[str] = None,
                 **kwargs):
        super().__init__(**kwargs)
        for name, value, valid in (('weighting', weighting, WEIGHTINGS),
                                   ('compare', compare, RELATION_SPACES),
                                   ('task_balance', task_balance,
                                    TASK_BALANCES),
                                   ('parameters', parameters,
                                    PARAMETER_SETS),
                                   ('select_state', select_state,
                                    STATE_SELECTIONS),
                                   ('task_pairing', task_pairing,
                                    TASK_PAIRINGS)):
            if value not in valid:
                raise ValueError(f'unknown {name} {value!r}; valid: '
                                 f'{", ".join(map(str, valid))}')
        if task_pairing == 'reference':
            if reference_pair not in REFERENCE_TASK_ORDERS:
                raise ValueError(
                    f"task_pairing='reference' needs a reference_pair; "
                    f'unknown reference_pair {reference_pair!r}; valid: '
                    f'{", ".join(REFERENCE_TASK_ORDERS)}')
            if compare != 'raw':
                raise ValueError("task_pairing='reference' pairs raw "
                                 "outputs, as the reference does; use "
                                 f"compare='raw', not {compare!r}")
        if check_interval < 1:
            raise ValueError(f'check_interval must be >= 1, got '
                             f'{check_interval}')
        if anchor_weight < 0:
            raise ValueError(f'anchor_weight must be >= 0, got '
                             f'{anchor_weight}')
        self.weighting = weighting
        self.loss_weight = loss_weight
        self.task_weights = None if task_weights is None else dict(
            task_weights)
        self.compare = compare
        self.task_balance = task_balance
        self.parameters = parameters
        self.anchor_weight = anchor_weight
        self.adapt_modules = tuple(adapt_modules)
        self.select_state = select_state
        self.check_interval = check_interval
        self.task_pairing = task_pairing
        self.reference_pair = reference_pair
        self.combiner: Optional[nn.Module] = None
        self._best: Optional[StateSnapshot] = None
        self._initial: Optional[Dict[str, torch.Tensor]] = None
        self._anchor = None

    def select_parameters(self, model):
        if getattr(model, 'relation_predictor', None) is None:
            raise ValueError('S4TAdapter needs a model with a '
                             'relation_predictor (TaskRelationPredictor)')
        selected = named_parameters_of(model, self.adapt_modules)
        if self.parameters == 'norm':
            norm_names = {f'{n}.{p}' for n, layer in norm_layers(model)
                          for p, _ in layer.named_parameters(recurse=False)}
            selected = [(n, p) for n, p in selected if n in norm_names]
        return selected

    def bind(self, model):
        if self.task_weights is not None:
            unknown = sorted(set(self.task_weights) - set(model.tasks))
            missing = sorted(set(model.tasks) - set(self.task_weights))
            if unknown or missing:
                raise ValueError(
                    f'S4TAdapter task_weights must name exactly the model\'s '
                    f'tasks {list(model.tasks)}; unknown: {unknown}, '
                    f'missing: {missing}')
        if self.task_pairing == 'reference' and sorted(
                REFERENCE_TASK_ORDERS[self.reference_pair][0]) != sorted(
                    model.tasks):
            raise ValueError(
                f'{self.reference_pair} pairs the tasks '
                f'{sorted(REFERENCE_TASK_ORDERS[self.reference_pair][0])}; '
                f'the model has {sorted(model.tasks)}')
        if self.weighting == 'uncertainty':
            self.combiner = MODELS.build(dict(
                type='UncertaintyWeightCombiner', tasks=list(model.tasks),
                _scope_='s4t_mm'))
        super().bind(model)
        if self.anchor_weight > 0:
            # the source values of the adapted parameters: the snapshot
            # holds them already (never updated), no second copy
            saved = self.snapshot.saved()
            self._anchor = [saved[n] for n, _ in self.adapted]
        if self.select_state == 'best_consistency':
            self._best = StateSnapshot(self.adapted +
                                       list(model.named_buffers()))
            self.stats.setdefault('rolled_back_steps', 0)
        return self

    def extra_modules(self):
        return (self.combiner, ) if self.combiner is not None else ()

    def adapt(self, inputs: torch.Tensor, steps: int,
              seed: Optional[int] = None) -> None:
        self._initial = None  # task_balance='initial' measures afresh
        if self._best is None:
            super().adapt(inputs, steps, seed)
            return
        best, best_step = self.consistency(inputs), 0
        self._best.update()
        done = 0
        while done < steps:
            chunk = min(self.check_interval, steps - done)
            super().adapt(inputs, chunk,
                          None if seed is None else seed + done)
            done += chunk
            score = self.consistency(inputs)
            if score < best:
                best, best_step = score, done
                self._best.update()
        if best_step < steps:
            self._best.restore()
            if self.guard.good is not None:  # the best is the last good
                self.guard.good.update()
            self.stats['rolled_back_steps'] += steps - best_step

    def consistency(self, inputs: torch.Tensor) -> float:
        """The objective without the anchor, in evaluation mode, under one
        fixed mask: lower means the main heads agree better with what the
        relation predictor reconstructs."""
        was_training, generator = self.model.training, self.generator
        self.generator = torch.Generator(inputs.device).manual_seed(0)
        self.model.eval()
        try:
            with torch.no_grad():
                terms = self.objective(self.model, inputs)
        finally:
            self.model.train(was_training)
            self.generator = generator
        return float(sum(v for k, v in terms.items() if k != 'anchor'))

    def task_weight(self, model, task: str) -> float:
        if self.task_weights is not None:
            return float(self.task_weights[task])
        return model.task_weight(task)

    def reference_paired(self, recon: Dict[str, torch.Tensor]
                         ) -> Dict[str, torch.Tensor]:
        """The reconstructions as the reference's test-time model reads
        them: concatenated in the source-training order of
        ``reference_pair``, split in its test-time order (each task's
        channel count)."""
        source, target = REFERENCE_TASK_ORDERS[self.reference_pair]
        joint = torch.cat([recon[t] for t in source], dim=1)
        return dict(zip(target, joint.split(
            [recon[t].shape[1] for t in target], dim=1)))

    def objective(self, model, inputs: torch.Tensor
                  ) -> Dict[str, torch.Tensor]:
        outputs = model.relation_consistency(inputs, space=self.compare,
                                             generator=self.generator)
        recon = outputs.reconstructed
        if self.task_pairing == 'reference':
            recon = self.reference_paired(recon)
        l1 = {
            task: self.loss_weight * (recon[task] -
                                      target).abs().mean(dim=(0, 2, 3)).sum()
            for task, target in outputs.main.items()
        }
        if self.task_balance == 'initial':
            if self._initial is None:
                self._initial = {t: v.detach().clamp(min=1e-12)
                                 for t, v in l1.items()}
            terms = {f'{t}.s4t': self.loss_weight * v / self._initial[t]
                     for t, v in l1.items()}
        elif self.combiner is not None:
            terms = {f'{t}.s4t': v for t, v in self.combiner(l1).items()}
        else:
            terms = {f'{t}.s4t': self.task_weight(model, t)**2 * v
                     for t, v in l1.items()}
        if self._anchor is not None:
            terms['anchor'] = self.anchor_weight * sum(
                (p - source).pow(2).sum()
                for (_, p), source in zip(self.adapted, self._anchor))
        return terms
