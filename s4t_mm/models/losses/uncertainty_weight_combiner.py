"""Learned uncertainty weighting of per-task losses."""
from typing import Dict, Sequence

import torch
import torch.nn as nn

from s4t_mm.registry import MODELS


@MODELS.register_module()
class UncertaintyWeightCombiner(nn.Module):
    """``sum_t 0.5 / s_t^2 * L_t + log(1 + s_t^2)`` with learned ``s_t``.

    The form S4T uses when Taskonomy is the source domain (Kendall et al.'s
    weighting with the regulariser ``log(1 + s^2)`` that keeps it positive).
    The scales start at 1, i.e. every task weighs 0.5.

    Args:
        tasks: the tasks whose losses are combined, in a fixed order.
    """

    def __init__(self, tasks: Sequence[str]):
        super().__init__()
        if len(tasks) == 0:
            raise ValueError('UncertaintyWeightCombiner needs at least one '
                             'task')
        self.tasks = list(tasks)
        self.scales = nn.Parameter(torch.ones(len(self.tasks)))

    def reorder_tasks(self, state_dict: dict, prefix: str,
                      saved_order: Sequence[str]) -> None:
        """Permute, in place, the scales of a state dict saved with the
        tasks in ``saved_order`` to this combiner's order."""
        if prefix + 'scales' in state_dict:
            state_dict[prefix + 'scales'] = state_dict[prefix + 'scales'][
                [list(saved_order).index(t) for t in self.tasks]]

    def weight(self, task: str) -> torch.Tensor:
        return 0.5 / self.scales[self._index(task)]**2

    def forward(self, task_losses: Dict[str, torch.Tensor]
                ) -> Dict[str, torch.Tensor]:
        terms = {}
        for task, loss in task_losses.items():
            s2 = self.scales[self._index(task)]**2
            terms[task] = 0.5 / s2 * loss + torch.log1p(s2)
        return terms

    def _index(self, task: str) -> int:
        try:
            return self.tasks.index(task)
        except ValueError:
            raise KeyError(f'unknown task {task!r}; this combiner weighs '
                           f'{", ".join(self.tasks)}') from None
