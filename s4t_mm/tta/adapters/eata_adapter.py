"""EATA for dense prediction: entropy minimisation on reliable, non-redundant
predictions only."""
import math
from typing import Dict, Optional

import torch

from s4t_mm.registry import ADAPTERS
from .tent_adapter import TentAdapter, task_logits


@ADAPTERS.register_module()
class EataAdapter(TentAdapter):
    """Efficient anti-forgetting TTA (Niu et al., ICML 2022) on the pixels of
    one categorical task, adapting the normalisation affine parameters as
    TENT does.

    - Reliability: only pixels whose prediction entropy ``E`` is below
      ``E0 = entropy_margin * ln(C)`` contribute, weighted by
      ``exp(E0 - E)`` (detached), so confident pixels count more.
    - Redundancy: an image whose mean class distribution has cosine
      similarity above ``1 - redundancy_margin`` to the moving average over
      the earlier batches is left out (it would repeat them). A batch joins
      the average after all its steps, so several steps on one batch (the
      paper protocol) do not filter the batch against itself. The average
      is forgotten on :meth:`reset`.

    The loss is the weighted entropy summed over the kept pixels, divided by
    the number of kept pixels; with none kept it is 0 and no parameter
    receives a gradient. EATA's Fisher regulariser is not included: it needs
    labelled-like source images, which an adapter never sees (without it the
    method is what the paper calls ETA).

    Args:
        task: the categorical task whose entropy is minimised.
        entropy_margin: E0 as a fraction of the maximum entropy ln(C)
            (paper: 0.4).
        redundancy_margin: epsilon of the redundancy test (paper: 0.05).
        momentum: weight of the old value in the moving average of class
            distributions (paper: 0.9).
        **kwargs: see :class:`BaseAdapter` (default optimizer as TENT's).
    """

    def __init__(self, task: str = 'semseg', entropy_margin: float = 0.4,
                 redundancy_margin: float = 0.05, momentum: float = 0.9,
                 **kwargs):
        super().__init__(task=task, **kwargs)
        if not 0.0 < entropy_margin <= 1.0:
            raise ValueError(f'entropy_margin must lie in (0, 1], got '
                             f'{entropy_margin}')
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f'momentum must lie in [0, 1), got {momentum}')
        self.entropy_margin = entropy_margin
        self.redundancy_margin = redundancy_margin
        self.momentum = momentum
        self.mean_probs: Optional[torch.Tensor] = None
        self._batch_probs: Optional[torch.Tensor] = None
        self._batch_kept: Optional[torch.Tensor] = None

    def reset(self) -> None:
        super().reset()
        self.mean_probs = None

    def adapt(self, inputs: torch.Tensor, steps: int,
              seed: Optional[int] = None) -> None:
        self._batch_probs = self._batch_kept = None
        super().adapt(inputs, steps, seed=seed)
        # one read per batch: did a step keep an image, with finite values
        if self._batch_probs is not None and bool(
                self._batch_kept & torch.isfinite(self._batch_probs).all()):
            self.mean_probs = self._batch_probs if self.mean_probs is None \
                else (self.momentum * self.mean_probs +
                      (1 - self.momentum) * self._batch_probs)

    def objective(self, model, inputs) -> Dict[str, torch.Tensor]:
        log_p = task_logits(model, inputs, self.task).log_softmax(dim=1)
        probs = log_p.exp()
        entropy = -(probs * log_p).sum(dim=1)  # (N, H, W)
        e0 = self.entropy_margin * math.log(log_p.shape[1])
        keep = entropy.detach() < e0
        image_probs = probs.detach().mean(dim=(2, 3))  # (N, C)
        if self.mean_probs is not None:
            similarity = torch.cosine_similarity(
                image_probs, self.mean_probs[None], dim=1)
            fresh = similarity < 1 - self.redundancy_margin
            keep &= fresh[:, None, None]
        # the mean distribution of the kept images of the last step that
        # kept any, chosen on the device (no synchronisation per step)
        kept_images = keep.flatten(1).any(dim=1).to(image_probs.dtype)
        any_kept = kept_images.sum() > 0
        batch_probs = (image_probs * kept_images[:, None]).sum(dim=0) / \
            kept_images.sum().clamp(min=1)
        if self._batch_probs is None:
            self._batch_probs, self._batch_kept = batch_probs, any_kept
        else:
            self._batch_probs = torch.where(any_kept, batch_probs,
                                            self._batch_probs)
            self._batch_kept = self._batch_kept | any_kept
        weight = torch.exp(e0 - entropy.detach()) * keep
        loss = (weight * entropy).sum() / keep.sum().clamp(min=1)
        return {f'{self.task}.eata': loss}
