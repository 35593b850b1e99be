"""S4T: pull the relation predictor's reconstruction of every task toward the
main heads' current predictions."""
from typing import Dict, Optional, Sequence

import torch
import torch.nn as nn

from s4t_mm.registry import ADAPTERS, MODELS
from .base_adapter import BaseAdapter, named_parameters_of

WEIGHTINGS = ('squared_task_weights', 'uncertainty')


@ADAPTERS.register_module()
class S4TAdapter(BaseAdapter):
    """The S4T test-time objective.

    For every task t, the relation predictor reconstructs t's output from a
    freshly masked view of all tasks' compressed features; the loss is the L1
    distance to the main head's output, which is detached (the target)::

        squared_task_weights:  lam * sum_t w_t^2 * L1(rel_t, sg(main_t))
        uncertainty:           sum_t 0.5/s_t^2 * lam * L1_t + log(1 + s_t^2)

    ``w_t`` are the model's source task weights (its ``loss_combiner``);
    the first form is the reference's for a NYUD-v2 target, the second its
    form for a Taskonomy target, with scales ``s_t`` started at 1 and adapted
    together with the model. Gradients reach the relation predictor, the
    compressor and the backbone; the main heads get none.

    Args:
        weighting: ``'squared_task_weights'`` or ``'uncertainty'``.
        loss_weight: lam (default 0.01, as in source training).
        adapt_modules: model attributes whose parameters are adapted.
        **kwargs: see :class:`BaseAdapter`.
    """

    def __init__(self,
                 weighting: str = 'squared_task_weights',
                 loss_weight: float = 0.01,
                 adapt_modules: Sequence[str] = ('backbone', 'neck',
                                                 'relation_predictor'),
                 **kwargs):
        super().__init__(**kwargs)
        if weighting not in WEIGHTINGS:
            raise ValueError(f'unknown weighting {weighting!r}; valid: '
                             f'{", ".join(WEIGHTINGS)}')
        self.weighting = weighting
        self.loss_weight = loss_weight
        self.adapt_modules = tuple(adapt_modules)
        self.combiner: Optional[nn.Module] = None

    def select_parameters(self, model):
        if getattr(model, 'relation_predictor', None) is None:
            raise ValueError('S4TAdapter needs a model with a '
                             'relation_predictor (TaskRelationPredictor)')
        return named_parameters_of(model, self.adapt_modules)

    def bind(self, model):
        if self.weighting == 'uncertainty':
            self.combiner = MODELS.build(dict(
                type='UncertaintyWeightCombiner', tasks=list(model.tasks),
                _scope_='s4t_mm'))
        return super().bind(model)

    def extra_modules(self):
        return (self.combiner, ) if self.combiner is not None else ()

    def objective(self, model, inputs: torch.Tensor
                  ) -> Dict[str, torch.Tensor]:
        feats = model.extract_feat(inputs)
        with torch.no_grad():
            main = model.head_outputs(feats)
        predictor = model.relation_predictor
        rel = predictor.reconstruct(predictor.compress(feats),
                                    generator=self.generator)
        size = inputs.shape[2:]
        l1 = {}
        for task, head in model.heads.items():
            target = head.resize(main[task], size)
            l1[task] = self.loss_weight * (
                head.resize(rel[task], size) - target).abs().mean(
                    dim=(0, 2, 3)).sum()
        if self.combiner is not None:
            return {f'{t}.s4t': v for t, v in self.combiner(l1).items()}
        weights = model.loss_combiner
        return {
            f'{t}.s4t': float(weights.weight(t))**2 * v
            for t, v in l1.items()
        }
