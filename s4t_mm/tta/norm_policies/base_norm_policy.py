"""What every normalisation policy shares: the hooks an adapter calls, and
how a policy is built from a config."""
from dataclasses import dataclass, field
from typing import Dict, List, Tuple, Union

import torch
import torch.nn as nn
from torch.nn.modules.batchnorm import _NormBase

from s4t_mm.registry import NORM_POLICIES
from s4t_mm.utils import build_checked


def norm_layers(model: nn.Module) -> List[Tuple[str, nn.Module]]:
    """BatchNorm/InstanceNorm/SyncBN, GroupNorm and LayerNorm layers."""
    kinds = (_NormBase, nn.GroupNorm, nn.LayerNorm)
    return [(n, m) for n, m in model.named_modules() if isinstance(m, kinds)]


@dataclass
class NormPolicyReport:
    """What a normalisation policy chose on one batch, per BatchNorm layer.

    ``weights``: the weight of the batch's own statistics against the
    source's, in [0, 1] (0 keeps the source's; the mean over channels where
    a policy weighs channels apart). ``scores``: the shift score the
    policy decided from (e.g. the gated policy's ``z``, in source spreads;
    empty for a policy without one)."""

    weights: Dict[str, float] = field(default_factory=dict)
    scores: Dict[str, float] = field(default_factory=dict)

    @property
    def mean_weight(self) -> float:
        """The mean weight over the layers (0 without any)."""
        values = list(self.weights.values())
        return sum(values) / len(values) if values else 0.0


class BaseNormPolicy:
    """How the statistics that normalisation layers use are (not)
    re-estimated while a method adapts, the same for every method
    (``BaseAdapter(norm_policy=...)``).

    :class:`~s4t_mm.tta.adapters.BaseAdapter` calls the hooks so:

    - :meth:`bind` once, in ``BaseAdapter.bind``, after the source snapshot
      is taken (the model is at its source state);
    - per ``adapt()`` call with steps to run: :meth:`set_mode`, then
      :meth:`before_steps` with the batch, under ``torch.no_grad()``, then
      (when gradient steps will run) :meth:`begin_steps`, the steps, then
      :meth:`after_steps` (also when a step raised; the adapter puts the
      model back in its previous mode after it);
    - :meth:`reset` in ``BaseAdapter.reset``, after the snapshot is
      restored.

    What the policy chose on the last batch is :meth:`report` (the
    adaptation session records it per domain).

    What a policy writes into the model's buffers is inside the adapter's
    snapshot, so ``reset`` restores the source statistics and the
    non-finite guard checks and undoes them like any other state.
    """

    #: True when the adaptation steps normalise with the batch's own
    #: statistics: a batch of one image then adapts with the source
    #: statistics instead (with a warning).
    uses_batch_statistics: bool = False
    #: Whether the policy can change the normalisation statistics at all.
    adapts_statistics: bool = False

    def __init__(self) -> None:
        """A policy without options: a config gives only ``type``
        (subclasses add their own)."""

    @property
    def name(self) -> str:
        """The name the policy's class is registered under (what configs
        write), else the class name."""
        return next((n for n, cls in NORM_POLICIES.module_dict.items()
                     if cls is type(self)), type(self).__name__)

    def __str__(self) -> str:
        return self.name

    def bind(self, model: nn.Module) -> None:
        """Attach to ``model`` at its source state (e.g. find its layers
        with :func:`norm_layers`, keep their source statistics)."""

    def set_mode(self, model: nn.Module) -> None:
        """Put the model, and its normalisation layers, in the mode the
        adaptation steps run in."""
        raise NotImplementedError

    def before_steps(self, model: nn.Module, inputs: torch.Tensor) -> None:
        """Before the first step on a batch of normalised ``inputs``
        (N, C, H, W): an estimating policy measures the batch's statistics
        and writes those the layers normalise with."""

    def begin_steps(self, model: nn.Module) -> None:
        """Gradient steps follow on the batch :meth:`before_steps` saw
        (the adapter calls it only when they run)."""

    def after_steps(self, model: nn.Module, inputs: torch.Tensor,
                    stepped: bool) -> None:
        """After the steps on the batch :meth:`before_steps` saw; ``stepped``
        says whether gradient steps changed the parameters."""

    def report(self) -> NormPolicyReport:
        """What the policy chose on the last batch :meth:`before_steps`
        measured (empty for a policy that does not blend)."""
        return NormPolicyReport()

    def reset(self) -> None:
        """Forget the target estimates (the source state is back)."""

    def after_load_checkpoint(self, checkpoint: dict) -> None:
        """Read what the policy needs from the loaded source checkpoint
        (called before :meth:`bind`, as mmengine's hooks of that name)."""


def build_norm_policy(cfg: Union[str, dict]) -> BaseNormPolicy:
    """Build from a bare name (``'batch_stats'``) or a config
    (``dict(type='batch_stats', ...)``)."""
    return build_checked(NORM_POLICIES, cfg, 'norm_policy')
