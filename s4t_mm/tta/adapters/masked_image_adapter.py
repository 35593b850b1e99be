"""TTT-MAE style adaptation: minimise the masked image reconstruction loss
of the model's self-supervised branch."""
from typing import Dict, Sequence

import torch

from s4t_mm.registry import ADAPTERS
from .base_adapter import BaseAdapter, named_parameters_of


@ADAPTERS.register_module()
class MaskedImageAdapter(BaseAdapter):
    """Adapt the shared encoder by reconstructing masked patches of the
    target images (Gandelsman et al., 2022), one auxiliary task for all
    tasks.

    The objective is ``model.self_supervised_loss(branch, inputs)``
    (e.g. :class:`MaskedImageReconstruction`, trained jointly with the task
    heads on the source domain); the encoder (backbone and neck) is adapted
    and the reconstruction decoder and the task heads stay as trained, as
    TTT-MAE adapts the encoder only. The patch masks are drawn from the
    adapter's per-batch :attr:`generator` when the driver seeds one.

    The encoder sees masked images, so with a BatchNorm encoder prefer
    ``norm_policy='source_stats'``: under ``'batch_stats'`` the running
    statistics would be re-estimated on masked images.

    Args:
        branch: name of the self-supervised branch in the model.
        adapt_modules: model attributes whose parameters are adapted.
        **kwargs: see :class:`BaseAdapter`.
    """

    def __init__(self, branch: str = 'image',
                 adapt_modules: Sequence[str] = ('backbone', 'neck'),
                 **kwargs):
        super().__init__(**kwargs)
        self.branch = branch
        self.adapt_modules = tuple(adapt_modules)

    def select_parameters(self, model):
        branches = getattr(model, 'self_supervised', None) or {}
        if self.branch not in branches:
            raise ValueError(
                f'MaskedImageAdapter: the model has no self-supervised '
                f'branch {self.branch!r}; its branches are '
                f'{sorted(branches)}. Train the source model with e.g. '
                f"self_supervised=dict({self.branch}=dict(type="
                "'MaskedImageReconstruction', ...))")
        return named_parameters_of(model, self.adapt_modules)

    def objective(self, model, inputs: torch.Tensor
                  ) -> Dict[str, torch.Tensor]:
        loss = model.self_supervised_loss(self.branch, inputs,
                                          generator=self.generator)
        return {f'{self.branch}.reconstruction': loss}
