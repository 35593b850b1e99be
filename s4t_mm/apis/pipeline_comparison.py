"""One checkpoint, source-only, through two test configs (e.g. the plain
test pipeline and one with :class:`~s4t_mm.datasets.transforms.
CanonicalCamera`): each domain's metrics and the second config's delta_m
against the first. What ``tools/analysis_tools/compare_test_pipelines.py``
runs; no adaptation, so no seed."""
import os.path as osp
from typing import Dict, Sequence

from mmengine.config import Config

from s4t_mm.engine.runner import DomainResults, check_domains
from s4t_mm.evaluation.multi_task_gain import delta_m, delta_m_keys
from s4t_mm.utils import dump_json_atomic
from .adaptation import run_domains


def compare_test_pipelines(configs: Sequence[Config],
                           names: Sequence[str], checkpoint: str,
                           domains_key: str, work_dir: str,
                           resume: bool = False) -> dict:
    """Source-only results of ``checkpoint`` through each config on the
    ``domains_key`` domains of the first config that defines them (the
    reference may be a plain config without that list; each domain kept in
    ``work_dir/parts/<name>/``, resumable); ``delta_m[name][domain]`` of
    every config against the first. Written to
    ``work_dir/test_pipelines.json``."""
    if len(configs) < 2 or len(names) != len(configs):
        raise ValueError(f'need two or more configs and one name each, got '
                         f'{len(configs)} configs and names {list(names)}')
    domains = check_domains(next(
        (c for c in configs if domains_key in c), configs[0]), domains_key)
    runs: Dict[str, dict] = {}
    for cfg, name in zip(configs, names):
        runs[name] = run_domains(
            cfg, checkpoint, domains, adapt=False, seed=0,
            work_dir=work_dir, name=name,
            results=DomainResults(osp.join(work_dir, 'parts', name),
                                  resume))
    base = runs[names[0]]
    deltas = {}
    for name in names[1:]:
        deltas[name] = {}
        for domain in base:
            metrics, reference = (runs[name][domain]['metrics'],
                                  base[domain]['metrics'])
            deltas[name][domain] = delta_m(
                metrics, reference, delta_m_keys(metrics, reference))
    result = dict(checkpoint=checkpoint, names=list(names),
                  domains=list(base), metrics={
                      n: {d: r['metrics'] for d, r in run.items()}
                      for n, run in runs.items()},
                  delta_m=deltas)
    dump_json_atomic(result, osp.join(work_dir, 'test_pipelines.json'))
    return result


def pipelines_table(result: dict) -> str:
    """Markdown: per domain and config its delta_m metrics and delta_m
    against the first config."""
    first = result['metrics'][result['names'][0]]
    domain = result['domains'][0]
    keys = delta_m_keys(first[domain], first[domain])
    lines = ['| domain | config | ' + ' | '.join(keys) + ' | delta_m (%) |',
             '|' + '---|' * (len(keys) + 3)]
    for domain in result['domains']:
        for name in result['names']:
            metrics = result['metrics'][name][domain]
            delta = result['delta_m'].get(name, {}).get(domain)
            lines.append(f'| {domain} | {name} | ' + ' | '.join(
                f'{metrics[k]:.4g}' for k in keys) + ' | ' + (
                    'reference' if delta is None else f'{delta:+.2f}') +
                ' |')
    return '\n'.join(lines)
