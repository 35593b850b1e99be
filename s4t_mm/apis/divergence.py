"""Whether an adapted run diverged, the per-domain summary over seeds and
its tables: what the tools print and write after the runs.

A domain whose adaptation diverged (a non-finite loss, gradient,
parameter, statistic or prediction during adaptation, or a key metric
that is not finite or exploded) is marked ``diverged`` by
:func:`summarize`, with the reasons, and left out of means.
"""
import math
from typing import Dict, List, Optional, Sequence

import numpy as np

from s4t_mm.evaluation.multi_task_gain import delta_m, delta_m_keys
from s4t_mm.tta.adapters.base_adapter import FAILURE_COUNTERS
from s4t_mm.utils import json_ready

#: An adapted key metric more than this many times the source-only one (in
#: absolute value, the source floored at 1) has exploded: the domain is
#: marked diverged even when every number is finite.
EXPLOSION_RATIO = 1e3


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def failure_summary(stats: Optional[dict], events: Sequence[dict]) -> str:
    """One line on an adapted run's failures (empty when none): each kind
    with its count and steps, and where adaptation stopped."""
    stats = stats or {}
    parts = []
    for event, counter in FAILURE_COUNTERS.items():
        count = stats.get(counter, 0)
        if not count:
            continue
        steps = [e['step'] for e in events if e['event'] == event]
        where = ''
        if steps:
            listed = ', '.join(map(str, steps[:5])) + (
                ', ...' if len(steps) > 5 else '')
            where = f' at step{"s" if len(steps) > 1 else ""} {listed}'
        parts.append(f'{count} x {event.replace("_", " ")}{where}')
    stops = [e['step'] for e in events if e['action'] == 'stopped']
    if stops:
        parts.append(f'adaptation stopped at step {stops[0]}')
    return '; '.join(parts)


def bad_metrics(metrics: dict, source_metrics: dict,
                keys: Sequence[str]) -> Dict[str, str]:
    """The key metrics of an adapted run that are not finite or exploded
    (:data:`EXPLOSION_RATIO`), each with the reason."""
    bad = {}
    for key in keys:
        value, source = metrics.get(key), source_metrics.get(key)
        if not _finite(value):
            bad[key] = f'{key} is not finite'
        elif _finite(source) and \
                abs(value) > EXPLOSION_RATIO * max(abs(source), 1.0):
            bad[key] = (f'{key} {value:.3g} exploded (source-only '
                        f'{source:.3g})')
    return bad


def divergence_reasons(run: dict, source_metrics: dict,
                       keys: Sequence[str]) -> List[str]:
    """Why one adapted run of a domain counts as diverged (empty list: it
    did not): failures during adaptation (:func:`failure_summary`), key
    metrics that are not finite or exploded (:func:`bad_metrics`)."""
    failures = failure_summary(run.get('tta_stats'),
                               run.get('tta_events') or [])
    return ([failures] if failures else []) + list(
        bad_metrics(run['metrics'], source_metrics, keys).values())


def summarize(source: Dict[str, dict], adapted_runs: List[Dict[str, dict]],
              seeds: Sequence[int]) -> Dict[str, dict]:
    """Per domain: source metrics, adapted mean/std over seeds, delta_m.

    A domain is ``diverged`` when any seed's adaptation diverged
    (:func:`divergence_reasons`) or a source-only key metric is not finite;
    ``divergence`` lists why. Such a domain has no ``delta_m`` (None), and
    its not finite or exploded means are None; the per-seed values stay for
    diagnosis (non-finite ones as None).
    """
    summary = {}
    for domain, src in source.items():
        src_metrics = json_ready(src['metrics'])
        runs = [json_ready(run[domain]) for run in adapted_runs]
        per_seed = [run['metrics'] for run in runs]
        keys = delta_m_keys(per_seed[0], src_metrics)
        reasons = [f'source-only {k} is not finite' for k in keys
                   if not _finite(src_metrics.get(k))]
        bad_keys = set()
        for seed, run in zip(seeds, runs):
            reasons += [f'seed {seed}: {r}' for r in
                        divergence_reasons(run, src_metrics, keys)]
            bad_keys |= set(bad_metrics(run['metrics'], src_metrics, keys))
        deltas = [
            delta_m(m, src_metrics, keys) if all(
                _finite(m.get(k)) and _finite(src_metrics.get(k))
                for k in keys) else None for m in per_seed
        ]
        diverged = bool(reasons)

        def stat(fn, key):
            values = [m.get(key) for m in per_seed]
            if key in bad_keys or not all(_finite(v) for v in values):
                return None
            return float(fn(values))

        names = sorted(per_seed[0])
        summary[domain] = json_ready(dict(
            source=src_metrics,
            adapted={k: stat(np.mean, k) for k in names},
            adapted_std={k: stat(np.std, k) for k in names},
            adapted_per_seed=dict(zip(map(str, seeds), per_seed)),
            delta_m=None if diverged else float(np.mean(deltas)),
            delta_m_std=None if diverged else float(np.std(deltas)),
            delta_m_per_seed=deltas,
            diverged=diverged,
            divergence=reasons,
            tta_stats=[run.get('tta_stats') for run in runs],
            tta_events=[run.get('tta_events') or [] for run in runs]))
    return summary


def _value(value, missing: str = 'diverged') -> str:
    return missing if value is None else f'{value:.3f}'


def format_table(summary: Dict[str, dict], keys: Sequence[str]) -> str:
    """A markdown table: one row per domain, source -> adapted per metric;
    a diverged domain reads ``diverged`` where it has no number."""
    header = ['domain'] + list(keys) + ['delta_m (%)']
    lines = ['| ' + ' | '.join(header) + ' |',
             '|' + '---|' * len(header)]
    for domain, s in summary.items():
        cells = [domain]
        for k in keys:
            if k in s['source']:
                adapted = s['adapted'][k]
                cells.append(
                    f'{_value(s["source"][k], "not finite")} -> ' +
                    ('diverged' if adapted is None else
                     f'{adapted:.3f} ± {_value(s["adapted_std"][k])}'))
            else:
                cells.append('-')
        cells.append('diverged' if s.get('diverged') else
                     f'{s["delta_m"]:+.2f} ± {s["delta_m_std"]:.2f}')
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def divergence_note(summary: Dict[str, dict]) -> str:
    """Lines naming each diverged domain and why (empty when none)."""
    return '\n'.join(
        f'- {domain}: diverged, left out of the mean ('
        f'{"; ".join(s["divergence"])})'
        for domain, s in summary.items() if s.get('diverged'))
