"""Sum per-task losses with fixed per-task weights."""
from typing import Dict, Optional

import torch
import torch.nn as nn

from s4t_mm.registry import MODELS


@MODELS.register_module()
class TaskWeightCombiner(nn.Module):
    """``sum_t w_t * L_t`` with ``w_t`` fixed in the config.

    Args:
        weights: task -> weight; tasks not listed weigh ``default_weight``.
        default_weight: weight of unlisted tasks.

    ``forward`` returns one weighted term per task, so the terms can be
    logged separately and still add up to the objective.
    """

    def __init__(self, weights: Optional[Dict[str, float]] = None,
                 default_weight: float = 1.0):
        super().__init__()
        self.weights = dict(weights or {})
        self.default_weight = default_weight

    def weight(self, task: str) -> float:
        return self.weights.get(task, self.default_weight)

    def forward(self, task_losses: Dict[str, torch.Tensor]
                ) -> Dict[str, torch.Tensor]:
        return {t: self.weight(t) * loss for t, loss in task_losses.items()}
