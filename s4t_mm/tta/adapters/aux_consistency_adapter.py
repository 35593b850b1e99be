"""Conventional multi-task TTT: each task's auxiliary head is pulled toward
its main head, with no joint relation model (S4T without its relation
predictor)."""
from typing import Dict, Sequence

import torch

from s4t_mm.registry import ADAPTERS
from .base_adapter import BaseAdapter, named_parameters_of


@ADAPTERS.register_module()
class AuxConsistencyAdapter(BaseAdapter):
    """``lam * sum_t w_t^2 * L1(aux_t, sg(main_t))`` over the relation
    predictor's per-task auxiliary heads.

    The same source model as S4T serves, which makes this the ablation the
    paper argues from: every task is adapted through its own auxiliary
    branch, independently of the others. Gradients reach the compressor and
    the backbone.

    Args:
        loss_weight: lam.
        adapt_modules: model attributes whose parameters are adapted.
    """

    def __init__(self, loss_weight: float = 0.01,
                 adapt_modules: Sequence[str] = (
                     'backbone', 'neck', 'relation_predictor.compressor'),
                 **kwargs):
        super().__init__(**kwargs)
        self.loss_weight = loss_weight
        self.adapt_modules = tuple(adapt_modules)

    def select_parameters(self, model):
        if getattr(model, 'relation_predictor', None) is None:
            raise ValueError('AuxConsistencyAdapter needs a model with a '
                             'relation_predictor (for its auxiliary heads)')
        return named_parameters_of(model, self.adapt_modules)

    def objective(self, model, inputs) -> Dict[str, torch.Tensor]:
        outputs = model.relation_consistency(inputs, outputs=('aux', ))
        return {
            f'{task}.aux': self.loss_weight * model.task_weight(task)**2 *
            (outputs.aux[task] - target).abs().mean(dim=(0, 2, 3)).sum()
            for task, target in outputs.main.items()
        }
