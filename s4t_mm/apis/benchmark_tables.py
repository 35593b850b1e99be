"""The tables of ``tools/benchmark_methods.py`` (``benchmark.md``): per
method and domain group the mean delta_m, its gain beyond BN-adapt, each
task's change, the safety columns (worst domain, runs below
:data:`LOSS_MARGIN`), the normalisation policy's choice per domain and the
label oracle; a continual stream's per-domain delta_m in stream order.
Pure functions of the comparison's results
(:func:`~s4t_mm.apis.comparison.compare`) and the stored reports."""
import json
import os.path as osp
from typing import Dict, List, Sequence
from urllib.parse import quote

import numpy as np

from s4t_mm.evaluation.multi_task_gain import metric_direction
from .sync_analysis import method_parts

BN_ADAPT = 'bn_adapt'


def task_changes(method: dict, source: dict, keys: Sequence[str],
                 domains: Sequence[str]) -> Dict[str, float]:
    """Per delta_m key: the mean over domains and seeds of the relative
    change against source-only (percent, up = better)."""
    changes = {}
    for key in keys:
        sign = -1.0 if metric_direction(key) == 'lower' else 1.0
        values = []
        for domain in domains:
            base = source['results'][domain]['metrics'][key]
            for metrics in method['summary'][domain][
                    'adapted_per_seed'].values():
                values.append(100 * sign * (metrics[key] - base) / base)
        changes[key] = float(np.mean(values))
    return changes


ORACLE = 'oracle (labels)'
#: A domain-seed run this far below source-only (delta_m, percent) counts
#: as a loss in the safety columns (the safe-adaptation target).
LOSS_MARGIN = -1.0


def oracle_method(results: dict, reference: str = BN_ADAPT) -> dict:
    """The ceiling a label-free choice between the source statistics and
    BN-adapt is judged against: per domain and seed the better of
    source-only and ``reference`` (BN-adapt), **chosen with the test
    labels**; a method summary like the others (``delta_m_per_seed``,
    ``adapted_per_seed``)."""
    summary = {}
    for domain, ref in results['methods'][reference]['summary'].items():
        per_seed, adapted = [], {}
        for seed, metrics in ref['adapted_per_seed'].items():
            value = ref['delta_m_per_seed'][len(per_seed)]
            better = value is not None and value > 0 and \
                not ref.get('diverged')
            per_seed.append(value if better else 0.0)
            adapted[seed] = metrics if better else ref['source']
        summary[domain] = dict(delta_m=float(np.mean(per_seed)),
                               delta_m_per_seed=per_seed,
                               delta_m_std=float(np.std(per_seed)),
                               adapted_per_seed=adapted, diverged=False)
    return dict(summary=summary)


def with_oracle(results: dict) -> dict:
    """``results`` with :func:`oracle_method` as the last method (when the
    table has BN-adapt)."""
    if BN_ADAPT not in results['methods']:
        return results
    methods = dict(results['methods'])
    methods[ORACLE] = oracle_method(results)
    return dict(results, methods=methods)


def policy_choices(work_dir: str, names: Sequence[str],
                   seeds: Sequence[int], domains: Sequence[str]
                   ) -> Dict[str, Dict[str, float]]:
    """Per method and domain, the normalisation policy's choice: the mean
    over seeds of its mean weight of the batch's statistics over the
    layers (``norm_weights`` of the stored runs, the last adapted batch);
    methods whose policy reports no weights are left out."""
    choices = {}
    for name in names:
        per_domain = {}
        for domain in domains:
            values = []
            for seed in seeds:
                path = osp.join(method_parts(work_dir, name, f'seed{seed}'),
                                quote(domain, safe='') + '.json')
                if not osp.isfile(path):
                    continue
                with open(path) as f:
                    weights = json.load(f)['result'].get('norm_weights')
                if weights:
                    values.append(float(np.mean(list(weights.values()))))
            if values:
                per_domain[domain] = float(np.mean(values))
        if per_domain:
            choices[name] = per_domain
    return choices


def domain_table(results: dict, choices: Dict[str, Dict[str, float]]
                 ) -> str:
    """Markdown: per domain, each method's delta_m (mean over seeds; a
    blending policy's mean target weight in brackets, the policy's
    choice), and the share of domain-seed runs below
    :data:`LOSS_MARGIN` in the last row."""
    methods = results['methods']
    lines = ['| domain | ' + ' | '.join(methods) + ' |',
             '|' + '---|' * (len(methods) + 1)]
    for domain in results['domains']:
        cells = []
        for name, method in methods.items():
            s = method['summary'][domain]
            cell = 'diverged' if s.get('diverged') else \
                f'{s["delta_m"]:+.2f}'
            if domain in choices.get(name, {}):
                cell += f' [{choices[name][domain]:.2f}]'
            cells.append(cell)
        lines.append(f'| {domain} | ' + ' | '.join(cells) + ' |')
    lines.append(f'| runs below {LOSS_MARGIN:+.0f} % | ' + ' | '.join(
        losses_cell(m, results['domains']) for m in methods.values()) +
        ' |')
    return '\n'.join(lines)


def losses_cell(method: dict, domains: Sequence[str]) -> str:
    """``k/N``: the domain-seed runs of ``domains`` below
    :data:`LOSS_MARGIN` (a diverged domain counts all its runs)."""
    below = total = 0
    for domain in domains:
        s = method['summary'][domain]
        values = s['delta_m_per_seed']
        total += len(values)
        below += len(values) if s.get('diverged') else sum(
            v is None or v < LOSS_MARGIN for v in values)
    return f'{below}/{total}'


def summary_table(results: dict, groups: Dict[str, List[str]],
                  sync: Dict[str, dict]) -> str:
    """Markdown: one row per method and domain group. Medians beside the
    means, since a domain where source-only scores near 0 on one metric
    makes its relative change, and so the mean delta_m, explode. The
    worst domain and the share of domain-seed runs more than 1 % below
    source-only are the safety columns. A domain where a method diverged
    is left out of that method's numbers (and of its comparison with
    BN-adapt) and counted in the last column."""
    keys = results['keys']
    source = next(iter(results['source'].values()))
    methods = results['methods']
    header = (['domains', 'method', 'mean delta_m (%)',
               'beyond BN-adapt (pp)', 'median delta_m (%)',
               'median beyond BN-adapt (pp)', 'better than BN-adapt on'] +
              [f'{k} (%)' for k in keys] +
              ['worst domain delta_m', f'runs below {LOSS_MARGIN:+.0f} %',
               'diverged'])
    lines = ['| ' + ' | '.join(header) + ' |',
             '|' + '---|' * len(header)]

    def kept(name, domains):
        return [d for d in domains
                if not methods[name]['summary'][d].get('diverged')]

    def mean_per_seed(name, domains):
        return np.mean([methods[name]['summary'][d]['delta_m_per_seed']
                        for d in domains], axis=0)

    for group, domains in groups.items():
        domains = [d for d in domains if d in results['domains']]
        if not domains:
            continue
        for name, method in methods.items():
            ok = kept(name, domains)
            if not ok:
                lines.append(f'| {group} | {name} | diverged |' +
                             ' |' * (len(header) - 4) +
                             f' {len(domains)} |')
                continue
            per_seed = mean_per_seed(name, ok)
            per_domain = [method['summary'][d]['delta_m'] for d in ok]
            beyond = median_beyond = better = ''
            if BN_ADAPT in methods:
                both = kept(BN_ADAPT, ok)
                gain = mean_per_seed(name, both) - mean_per_seed(
                    BN_ADAPT, both)
                beyond = f'{np.mean(gain):+.2f}'
                gains = [method['summary'][d]['delta_m'] -
                         methods[BN_ADAPT]['summary'][d]['delta_m']
                         for d in both]
                median_beyond = f'{np.median(gains):+.2f}'
                better = f'{sum(g > 0 for g in gains)}/{len(gains)}'
            worst = min(ok, key=lambda d: method['summary'][d]['delta_m'])
            changes = task_changes(method, source, keys, ok)
            cells = [group, name,
                     f'{np.mean(per_seed):+.2f} ± {np.std(per_seed):.2f}',
                     beyond, f'{np.median(per_domain):+.2f}', median_beyond,
                     better] + [f'{changes[k]:+.2f}' for k in keys] + [
                         f'{worst} '
                         f'{method["summary"][worst]["delta_m"]:+.2f}',
                         losses_cell(method, domains),
                         str(len(domains) - len(ok))]
            lines.append('| ' + ' | '.join(cells) + ' |')
    if sync:
        lines += ['', '| method | domain | best step per task | spread |',
                  '|---|---|---|---|']
        for name, reports in sync.items():
            for domain in [d for d in results['domains'] if d in reports]:
                report = reports[domain]
                steps = ', '.join(
                    f'{t} {s}' for t, s in sorted(report['best_step'].items()))
                lines.append(f'| {name} | {domain} | {steps} | '
                             f'{report["spread"]} |')
    return '\n'.join(lines)


def stream_table(results: dict) -> str:
    """Markdown: the domains in the order the continual stream met them,
    each method's delta_m there (mean ± std over seeds), so a collapse over
    time shows as a falling column."""
    methods = results['methods']
    lines = ['| # | domain | ' + ' | '.join(methods) + ' |',
             '|' + '---|' * (len(methods) + 2)]
    for i, domain in enumerate(results['domains'], 1):
        cells = []
        for method in methods.values():
            s = method['summary'][domain]
            cells.append('diverged' if s['diverged'] else
                         f'{s["delta_m"]:+.2f} ± {s["delta_m_std"]:.2f}')
        lines.append(f'| {i} | {domain} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)
