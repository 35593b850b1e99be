"""The shift-response rule (ours): from how a batch's statistics moved
across the depth of the network, the weight its own statistics get;
fitted on the labelled source under simulated shifts.

A batch's *shift profile* (:func:`shift_profile`) is measured with the
source statistics in every layer: per layer group (e.g. a backbone stage,
:func:`layer_groups`), ``z_mean`` and ``z_var``, the root mean square over
the group's channels of the batch mean's and log variance's distances from
the source's, in source batch-to-batch spreads (the mean and variance
parts of :func:`~.norm_statistics.shift_score`, kept apart).

The rule reads two numbers of the profile (:func:`rule_features`):

- ``depth_trend``: log ``z_mean`` of the last group minus log of the
  largest ``z_mean`` of the groups before it. A change of appearance
  (light, colour, blur, noise, weather) is strongest in early and middle
  layers and fades as the features become invariant to it (< 0); a change
  of the scene (another view, room or object scale) changes what the deep,
  semantic features respond to, so their shift is the largest (>= 0), and
  re-estimating statistics then removes content the heads read;
- ``log_shift``: log of the largest ``z_mean``: how far the batch lies
  from the source at all (a batch of the source distribution: about 0).

``p = sigmoid(w . features + b)`` is the probability that re-estimating
the statistics lowers the supervised loss, fitted by a logistic regression
(:func:`fit_shift_response`) on simulated shifts of labelled source
batches, each weighted by how much re-estimation changed the loss there
(a wrong call on a shift where it changed the loss by 30 % costs more
than one where it changed it by 1 %). Three numbers, stored in the
checkpoint and printed by the calibration tool.

Prior art: TTN (Lim et al., ICLR 2023, arXiv 2302.05155) learns a fixed
per-channel mixing weight on the labelled source under augmentations;
InstCal (ECCV 2022, arXiv 2203.16530) learns an input-conditioned
calibration of the statistics on strongly augmented source data; AutoEval
(Deng and Zheng, CVPR 2021, arXiv 2007.02915) regresses accuracy from
feature statistics over synthetically shifted copies of the source. Ours
conditions on two interpretable numbers of the batch and fits what
re-estimation does to the loss.
"""
import logging
from collections import OrderedDict
from typing import Dict, List, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.logging import print_log

from .norm_statistics import log_variance

#: The rule's inputs, in order (:func:`rule_features`).
FEATURES = ('depth_trend', 'log_shift')


def layer_groups(names: Sequence[str], depth: int = 2
                 ) -> 'OrderedDict[str, List[str]]':
    """BatchNorm layer names grouped by their first ``depth`` name parts
    (``backbone.layer2.0.bn1`` -> ``backbone.layer2``), in order."""
    if depth < 1:
        raise ValueError(f'group depth must be >= 1, got {depth}')
    groups: 'OrderedDict[str, List[str]]' = OrderedDict()
    for name in names:
        groups.setdefault('.'.join(name.split('.')[:depth]), []).append(name)
    return groups


def shift_profile(spreads: Dict[str, dict],
                  stats: Dict[str, Tuple[torch.Tensor, torch.Tensor]],
                  eps: Dict[str, float],
                  groups: 'OrderedDict[str, List[str]]',
                  spread_scale: float = 1.0) -> torch.Tensor:
    """``(G, 2)``: per group ``(z_mean, z_var)`` of a batch whose
    per-layer (mean, unbiased var) are ``stats``, against the source's
    ``spreads`` (:func:`~.norm_statistics.calibrate_spread`'s ``layers``),
    the spreads rescaled to the batch's size by ``spread_scale``."""
    floor = 1e-6
    rows = []
    for names in groups.values():
        z_mean, z_var = [], []
        for name in names:
            spread = spreads[name]
            mean, var = stats[name]
            z_mean.append((mean.float() - spread['mean_center']) / (
                spread['mean_spread'] * spread_scale + floor))
            z_var.append((log_variance(var.float(), eps[name]) -
                          spread['logvar_center']) / (
                spread['logvar_spread'] * spread_scale + floor))
        rows.append(torch.stack([torch.cat(z_mean).pow(2).mean().sqrt(),
                                 torch.cat(z_var).pow(2).mean().sqrt()]))
    return torch.stack(rows)


def rule_features(profile: torch.Tensor) -> torch.Tensor:
    """``(2,)``: :data:`FEATURES` of a ``(G, 2)`` profile (G >= 2)."""
    if profile.shape[0] < 2:
        raise ValueError('the shift-response rule compares the last layer '
                         'group with the ones before it: it needs >= 2 '
                         f'groups, got {profile.shape[0]}')
    z_mean = profile[:, 0].clamp_min(1e-3).log()
    return torch.stack([z_mean[-1] - z_mean[:-1].max(), z_mean.max()])


def fit_logistic(x: torch.Tensor, y: torch.Tensor, l2: float = 1e-3,
                 sample_weight=None) -> Tuple[torch.Tensor, torch.Tensor]:
    """``(w, b)`` of an L2-regularised logistic regression of the labels
    ``y`` (N,) in {0, 1} on ``x`` (N, F), fitted with L-BFGS in float64
    (deterministic): minimises the ``sample_weight``-weighted mean log
    loss plus ``l2 * |w|^2``."""
    x, y = x.double(), y.double()
    sample_weight = torch.ones_like(y) if sample_weight is None else \
        torch.as_tensor(sample_weight, dtype=torch.float64)
    sample_weight = sample_weight / sample_weight.sum()
    w = torch.zeros(x.shape[1], dtype=torch.float64, requires_grad=True)
    b = torch.zeros((), dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([w, b], lr=1.0, max_iter=500,
                                  tolerance_grad=1e-10,
                                  tolerance_change=1e-12,
                                  line_search_fn='strong_wolfe')

    def closure():
        optimizer.zero_grad()
        loss = (sample_weight * F.binary_cross_entropy_with_logits(
            x @ w + b, y, reduction='none')).sum() + l2 * w.pow(2).sum()
        loss.backward()
        return loss

    with torch.enable_grad():
        optimizer.step(closure)
    return w.detach().float(), b.detach().float()


def fit_shift_response(profiles: torch.Tensor, gains: torch.Tensor,
                       l2: float = 1e-3, max_weight: float = 50.0) -> dict:
    """The rule from ``profiles`` (N, G, 2) of ``N`` simulated shifts and
    ``gains`` (N,): the per-task relative change of the supervised loss
    (percent, up = better) when every layer re-estimates its statistics
    on the shifted batch. A shift counts as helped where its gain is > 0,
    with weight ``|gain|`` (clipped to [0.5, ``max_weight``]); where every
    shift was helped (or every one hurt) the rule always (never) adapts,
    with a warning. Returns
    ``dict(features=FEATURES, weight=(2,), bias=(), num_shifts=N,
    helped=share)``, what the checkpoint stores."""
    if profiles.dim() != 3 or profiles.shape[0] != gains.shape[0]:
        raise ValueError(f'profiles {tuple(profiles.shape)} and gains '
                         f'{tuple(gains.shape)} must be (N, G, 2) and (N,)')
    helped = (gains > 0).float()
    if helped.min() == helped.max():
        # no boundary to fit: the constant answer of the data, said aloud
        print_log(f're-estimating the statistics '
                  f'{"helped" if helped[0] else "hurt"} on every one of '
                  f'the {len(gains)} simulated shifts: the shift-response '
                  f'rule {"always" if helped[0] else "never"} adapts',
                  logger='current', level=logging.WARNING)
        w = torch.zeros(len(FEATURES))
        b = torch.tensor(10.0 if helped[0] else -10.0)
    else:
        x = torch.stack([rule_features(p) for p in profiles])
        w, b = fit_logistic(x, helped, l2,
                            gains.abs().clamp(0.5, max_weight))
    return dict(features=list(FEATURES), weight=w, bias=b,
                num_shifts=int(gains.shape[0]),
                helped=float(helped.mean()))


def response_probability(rule: dict, profile: torch.Tensor
                         ) -> torch.Tensor:
    """The rule's probability (0-dim) that re-estimating the statistics
    helps, for a batch's ``(G, 2)`` profile."""
    x = rule_features(profile.float())
    return torch.sigmoid((x * rule['weight'].to(x)).sum() +
                         rule['bias'].to(x))
