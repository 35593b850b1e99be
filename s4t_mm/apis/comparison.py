"""Compare test-time adaptation methods on the same target domains, and
evaluate one config source-only against adapted: what
``tools/compare_methods.py`` and ``tools/test_time_adapt.py`` run.

Every finished unit is kept as it finishes (:class:`DomainResults`), so a
killed comparison started again with ``resume`` redoes nothing and ends
with the same results. The layout under a comparison's ``out_dir/parts/``:
``source/<checkpoint digest>/<domain>.json`` (source-only),
``methods/<name>/seed<seed>/<domain>.json`` and
``methods/<name>/sync/<domain>.json`` (:func:`sync_reports`).
"""
import os.path as osp
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence

import numpy as np
from mmengine.config import Config
from mmengine.dist import get_rank
from mmengine.logging import print_log

from s4t_mm.fileio import atomic_write_bytes
from s4t_mm.engine.hooks import compose_comparisons, with_visualization_hook
from s4t_mm.engine.runner import (DomainResults, TestTimeAdaptReport,
                                  check_domains, file_digest)
from s4t_mm.evaluation.multi_task_gain import delta_m, delta_m_keys
from s4t_mm.tta.protocols import protocol_config
from s4t_mm.utils import dump_json_atomic, json_ready
from .adaptation import run_domains
from .adaptation_config import adaptation_run_cfg, tta_hook_cfg
from .divergence import divergence_note, format_table, summarize
from .sync_analysis import method_parts, sync_reports


def method_names(configs: Sequence[str],
                 names: Optional[Sequence[str]] = None) -> List[str]:
    """``names``, or the config file names; unique either way."""
    if names is None:
        names = [osp.splitext(osp.basename(c))[0] for c in configs]
    if len(names) != len(configs):
        raise ValueError(f'--names gives {len(names)} names for '
                         f'{len(configs)} configs')
    if len(set(names)) != len(names):
        raise ValueError(f'method names must be unique, got {names}; pass '
                         '--names')
    return list(names)


def checkpoint_labels(checkpoints: Sequence[str]) -> Dict[str, str]:
    """A short unique label per distinct checkpoint: its file name, else its
    directory's name, else its position."""
    unique = list(OrderedDict.fromkeys(checkpoints))
    for label in (lambda c: osp.splitext(osp.basename(c))[0],
                  lambda c: osp.basename(osp.dirname(osp.abspath(c)))):
        labels = [label(c) for c in unique]
        if len(set(labels)) == len(labels):
            return OrderedDict(zip(unique, labels))
    return OrderedDict((c, f'ckpt{i}') for i, c in enumerate(unique))


def _cell(values: Sequence[float], fmt: str = '.3f') -> str:
    if any(v is None for v in values):
        return 'not finite'
    if len(values) == 1:
        return format(values[0], fmt)
    return f'{np.mean(values):{fmt}} ± {np.std(values):{fmt.lstrip("+")}}'


def comparison_table(results: dict) -> str:
    """Markdown: one row per domain and method (source-only rows first);
    each metric and delta_m as mean ± std over seeds, ``diverged`` where a
    diverged method has no number."""
    keys = results['keys']
    sync = any(m.get('sync') for m in results['methods'].values())
    header = ['domain', 'method'] + keys + ['delta_m (%)']
    if sync:
        header.append('best step per task (spread)')
    lines = ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
    for domain in results['domains']:
        for label, source in results['source'].items():
            metrics = source['results'][domain]['metrics']
            cells = [domain, f'source-only ({label})'] + [
                _cell([metrics[k]]) for k in keys] + ['0']
            lines.append('| ' + ' | '.join(
                cells + ([''] if sync else [])) + ' |')
        for name, method in results['methods'].items():
            s = method['summary'][domain]
            per_seed = list(s['adapted_per_seed'].values())
            cells = [domain, name] + [
                'diverged' if s['adapted'][k] is None else
                _cell([m[k] for m in per_seed]) for k in keys]
            cells.append('diverged' if s.get('diverged') else
                         _cell(s['delta_m_per_seed'], '+.2f'))
            if sync:
                report = (method.get('sync') or {}).get(domain)
                cells.append('' if report is None else ', '.join(
                    f'{t} {b}' for t, b in report['best_step'].items()) +
                    f' ({report["spread"]})')
            lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def diverged_units(results: dict) -> List[tuple]:
    """(domain, method) pairs whose adaptation diverged."""
    return [(d, name) for d in results['domains']
            for name, m in results['methods'].items()
            if m['summary'][d].get('diverged')]


def divergence_notes(results: dict) -> str:
    """Markdown list: each diverged (domain, method) and why."""
    return '\n'.join(
        f'- {d}, {name}: diverged, left out of the means ('
        f'{"; ".join(results["methods"][name]["summary"][d]["divergence"])})'
        for d, name in diverged_units(results))


def overall_table(results: dict) -> str:
    """Markdown: per method, delta_m averaged over the domains where it did
    not diverge (mean ± std over seeds; the others are named) and the
    domains where its delta_m is the best of all methods."""
    methods = results['methods']
    best = {name: [] for name in methods}
    for domain in results['domains']:
        ok = [n for n in methods
              if not methods[n]['summary'][domain].get('diverged')]
        if ok:
            top = max(ok, key=lambda n: methods[n]['summary'][domain][
                'delta_m'])
            best[top].append(domain)
    lines = ['| method | mean delta_m over domains (%) | best on |',
             '|---|---|---|']
    for name, method in methods.items():
        kept = [d for d in results['domains']
                if not method['summary'][d].get('diverged')]
        left_out = [d for d in results['domains'] if d not in kept]
        cell = 'diverged on every domain'
        if kept:
            per_seed = np.mean([method['summary'][d]['delta_m_per_seed']
                                for d in kept], axis=0)
            cell = _cell(list(per_seed), '+.2f')
            if left_out:
                cell += f' (without diverged {", ".join(left_out)})'
        lines.append(f'| {name} | {cell} | '
                     f'{", ".join(best[name]) or "-"} |')
    return '\n'.join(lines)


def source_only_run(cfg: Config, checkpoint: str, label: str,
                    domains: Sequence[dict], seed: int, out_dir: str,
                    resume: bool = False) -> Dict[str, dict]:
    """:func:`compare`'s source-only results of ``checkpoint`` (labelled
    ``label``) on ``domains``, each domain kept in
    ``out_dir/parts/source/<checkpoint digest>/`` (:func:`run_domains`)."""
    store = DomainResults(osp.join(out_dir, 'parts', 'source',
                                   file_digest(checkpoint)[:16]), resume)
    return run_domains(cfg, checkpoint, domains, adapt=False, seed=seed,
                       work_dir=osp.join(out_dir, f'source_{label}'),
                       name=f'source_{label}', results=store)


def method_run(cfg: Config, checkpoint: str, name: str,
               domains: Sequence[dict], seed: int, out_dir: str,
               resume: bool = False) -> Dict[str, dict]:
    """:func:`compare`'s results of method ``name`` (``cfg``) adapted with
    ``seed`` on ``domains``, each domain kept in
    ``method_parts(out_dir, name, 'seed<seed>')`` (:func:`run_domains`)."""
    store = DomainResults(method_parts(out_dir, name, f'seed{seed}'),
                          resume)
    return run_domains(cfg, checkpoint, domains, adapt=True, seed=seed,
                       work_dir=osp.join(out_dir, name),
                       name=f'{name}_seed{seed}', results=store)


def compare(configs: Sequence[Config], paths: Sequence[str],
            names: Sequence[str], checkpoints: Sequence[str],
            seeds: Sequence[int], domains_key: str, out_dir: str,
            sync_steps: Optional[int] = None, sync_interval: int = 5,
            sync_tolerance: float = 0.0, resume: bool = False) -> dict:
    """Test every checkpoint once source-only and every method once per
    seed on every domain of ``domains_key``; with ``sync_steps`` also run
    the synchronisation analysis of every method (seed = the first seed).

    delta_m is measured against the source-only result of the method's own
    checkpoint (``checkpoints``: one per config, or one for all);
    ``delta_m_vs_reference`` against the first checkpoint's, for methods
    whose source models differ. Returns the results in plain JSON types.
    """
    if len(checkpoints) == 1:
        checkpoints = list(checkpoints) * len(configs)
    if len(checkpoints) != len(configs):
        raise ValueError(f'--checkpoint gives {len(checkpoints)} '
                         f'checkpoints for {len(configs)} configs; give one '
                         'per config or one for all')
    domains = None
    for path, cfg in zip(paths, configs):
        if tta_hook_cfg(cfg) is None:
            raise ValueError(f'{path} has no TestTimeAdaptHook in '
                             'custom_hooks; source-only runs are added '
                             'for every checkpoint anyway')
        these = check_domains(cfg, domains_key)
        if domains is None:
            domains = these
        elif [d['name'] for d in these] != [d['name'] for d in domains]:
            raise ValueError(f'{path} has {domains_key} '
                             f'{[d["name"] for d in these]}, the first config '
                             f'{[d["name"] for d in domains]}; compare on '
                             'the same domains')
    labels = checkpoint_labels(checkpoints)
    total = len(labels) + len(configs) * len(seeds) + (
        len(configs) if sync_steps is not None else 0)
    done = [0]

    def progress(what):
        done[0] += 1
        print_log(f'[compare {done[0]}/{total}] {what}', logger='current')

    source = OrderedDict()
    for ckpt, label in labels.items():
        cfg = configs[checkpoints.index(ckpt)]
        progress(f'source-only {label}')
        source[label] = dict(checkpoint=ckpt, results=source_only_run(
            cfg, ckpt, label, domains, seeds[0], out_dir, resume))
    methods = OrderedDict()
    for cfg, path, name, ckpt in zip(configs, paths, names, checkpoints):
        adapted = []
        for seed in seeds:
            progress(f'{name} seed {seed}')
            adapted.append(method_run(cfg, ckpt, name, domains, seed,
                                      out_dir, resume))
        hook = tta_hook_cfg(cfg)
        methods[name] = dict(
            config=path, checkpoint=ckpt, source=labels[ckpt],
            adapter=hook['adapter'], protocol=hook.get('protocol'),
            summary=summarize(source[labels[ckpt]]['results'], adapted,
                              seeds))
        if sync_steps is not None:
            progress(f'{name} synchronisation analysis')
            methods[name]['sync'] = sync_reports(
                cfg, ckpt, domains, seeds[0], name, out_dir, sync_steps,
                sync_interval, sync_tolerance, resume)
    first = next(iter(methods.values()))['summary'][domains[0]['name']]
    keys = delta_m_keys(first['adapted'], first['source'])
    reference = next(iter(source.values()))['results']
    for method in methods.values():
        for domain, s in method['summary'].items():
            ref = reference[domain]['metrics']
            s['delta_m_vs_reference'] = None if s['diverged'] or any(
                ref.get(k) is None for k in keys) else float(np.mean([
                    delta_m(m, ref, keys)
                    for m in s['adapted_per_seed'].values()]))
    return json_ready(dict(
        seeds=list(seeds), domains_key=domains_key,
        domains=[d['name'] for d in domains], keys=keys,
        reference_source=next(iter(source)), source=source, methods=methods))


def write_comparison(results: dict, out_dir: str) -> str:
    """``out_dir/comparison.md`` (the tables, returned) and
    ``out_dir/comparison.json`` of :func:`compare`'s results; the text is
    also logged."""
    notes = divergence_notes(results)
    text = (f'# Method comparison on {results["domains_key"]}, seeds '
            f'{results["seeds"]}\n\ndelta_m against the source-only result '
            'of the method\'s own checkpoint; mean ± std over seeds.\n\n' +
            comparison_table(results) + '\n\n' +
            (f'{notes}\n\n' if notes else '') + overall_table(results) +
            '\n')
    md = osp.join(out_dir, 'comparison.md')
    atomic_write_bytes(text.encode(), md)
    dump_json_atomic(results, osp.join(out_dir, 'comparison.json'))
    print_log(f'{text}\ntable: {md}', logger='current')
    return text


def adaptation_runs(cfg: Config, config_path: str, domains_key: str,
                    seeds: Sequence[int], out: str, resume: bool = False,
                    show_dir: Optional[str] = None) -> Dict[str, Config]:
    """The Runner configs that evaluate one test-time adaptation config
    (checkpoint in ``cfg.load_from``) on its target domains, by run name:
    ``source_only`` once, ``adapted_seed<seed>`` per seed, each domain kept
    in ``<out without .json>.parts/<run>/<domain>.json`` (with ``resume``
    taken from there). With ``show_dir`` every target image is drawn
    into ``show_dir/<run>/<domain>/`` (for :func:`write_adaptation_results`'
    side-by-side drawings)."""
    if tta_hook_cfg(cfg) is None:
        raise ValueError(f'{config_path} has no TestTimeAdaptHook in '
                         'custom_hooks; nothing to adapt with')
    domains = check_domains(cfg, domains_key)
    parts = osp.splitext(out)[0] + '.parts'
    runs = OrderedDict()
    for tag, adapt, seed in [('source_only', False, seeds[0])] + [
            (f'adapted_seed{seed}', True, seed) for seed in seeds]:
        run_cfg = with_visualization_hook(
            cfg, show_dir, tag, [d['name'] for d in domains]) \
            if show_dir else cfg
        runs[tag] = adaptation_run_cfg(
            run_cfg, domains, adapt, seed, cfg.work_dir, tag,
            results_dir=osp.join(parts, tag), resume=resume)
    return runs


def write_adaptation_results(cfg: Config, config_path: str,
                             reports: Dict[str, TestTimeAdaptReport],
                             seeds: Sequence[int], out: str,
                             show_dir: Optional[str] = None
                             ) -> Optional[dict]:
    """Summarise the :func:`adaptation_runs` of one config (their reports
    by run name): per domain source -> adapted, mean ± std over seeds, and
    delta_m, into ``out`` (JSON) and the log; with ``show_dir`` every
    target image drawn with ground truth, source-only and adapted
    predictions side by side into ``show_dir/comparison/<domain>/``.

    Returns the results (None on ranks other than 0).
    """
    hook = tta_hook_cfg(cfg)

    def as_dicts(tag):
        return {name: json_ready(r.to_dict())
                for name, r in reports[tag].domains.items()}

    source = as_dicts('source_only')
    adapted = [as_dicts(f'adapted_seed{seed}') for seed in seeds]
    summary = summarize(source, adapted, seeds)
    if get_rank() != 0:
        return None
    if show_dir:
        written = compose_comparisons(
            show_dir, ['source_only'] + [f'adapted_seed{s}' for s in seeds])
        print_log(f'{len(written)} side-by-side drawings in '
                  f'{osp.join(show_dir, "comparison")}', logger='current')
    first = next(iter(summary.values()))
    table = format_table(summary, delta_m_keys(first['adapted'],
                                               first['source']))
    protocol = protocol_config(hook.get('protocol'))
    diverged = [d for d, s in summary.items() if s['diverged']]
    kept = [s['delta_m'] for s in summary.values() if not s['diverged']]
    results = dict(
        config=config_path,
        checkpoint=cfg.load_from,
        method=hook['adapter']['type'],
        adapter=hook['adapter'],
        protocol=protocol,
        steps=protocol.get('steps'),
        seeds=list(seeds),
        domains=summary,
        diverged_domains=diverged,
        mean_delta_m=sum(kept) / len(kept) if kept else None)
    dump_json_atomic(results, out)
    mean = 'none (every domain diverged)' if not kept else \
        f'{results["mean_delta_m"]:+.2f} %' + (
            f' over {len(kept)} of {len(summary)} domains' if diverged
            else '')
    note = divergence_note(summary)
    print_log(f'{results["method"]} ({protocol["type"]} protocol), source '
              f'-> adapted, mean ± std over seeds {list(seeds)}:\n{table}\n'
              + (f'{note}\n' if note else '') +
              f'mean delta_m: {mean}\nresults: {out}', logger='current')
    return results
