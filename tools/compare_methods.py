"""Compare test-time adaptation methods on the same target domains.

    python tools/compare_methods.py --configs CFG_A CFG_B ...
        --checkpoints CKPT [CKPT_B ...] --work-dir DIR
        [--names A B ...] [--seeds 0 1 2] [--domains target_domains]
        [--sync-steps N --sync-interval K [--sync-tolerance PP]]
        [--resume] [--strict] [--cfg-options k=v ...] [--launcher L]

Each config is a test-time adaptation config (a ``TestTimeAdaptHook`` in
``custom_hooks``); ``--checkpoints`` gives one source checkpoint per config
or one shared by all. Every checkpoint is tested once source-only, every
method once per seed, on every domain of ``--domains``; a seed sets the
adaptation's random draws and, with the paper protocol, which target
images it adapts on. Writes
``DIR/comparison.md`` (rows domain x method: each task's metric and delta_m,
mean ± std over seeds) and ``DIR/comparison.json``. delta_m is measured
against the source-only result of the method's own checkpoint; the JSON
also has it against the first checkpoint's (``delta_m_vs_reference``), for
methods whose source models differ. With
``--sync-steps`` the task-synchronisation analysis also runs on every
domain (seed = the first seed) and the table gets each task's best step.

Every finished unit is written at once, atomically, to ``DIR/parts/``:
``source/<checkpoint digest>/<domain>.json`` (source-only),
``methods/<name>/seed<seed>/<domain>.json`` and
``methods/<name>/sync/<domain>.json``. With ``--resume`` every stored unit
is skipped, so a killed comparison started again with the same arguments
(or with more methods, seeds or domains) redoes nothing and ends with the
same JSON; a stored unit of other settings is an error. (A protocol that
carries its state across domains, ``online`` without ``reset_each_domain``,
reruns a (method, seed) from its first domain when one is missing.)

A (domain, method) whose adaptation diverged (non-finite events during
adaptation, key metrics not finite or exploded) reads ``diverged`` in the
tables, with the reasons below them, and is left out of the means over
domains; ``--strict`` then exits with status 3 after writing everything.
"""
import argparse
import os.path as osp
import sys
from collections import OrderedDict
from typing import Dict, List, Sequence
from urllib.parse import quote

import numpy as np
from mmengine.config import Config
from mmengine.logging import print_log

from s4t_mm.apis import (DomainResults, check_domains, run_domains, summarize,
                         tta_hook_cfg)
from s4t_mm.apis.adaptation import file_digest, result_key, with_seed
from s4t_mm.engine.checkpoint import atomic_write_bytes
from s4t_mm.engine.launch import add_common_args, apply_launcher
from s4t_mm.evaluation.functional import delta_m, delta_m_keys
from s4t_mm.apis.sync_analysis import run_sync_analysis
from s4t_mm.utils import (DIVERGED_EXIT_STATUS, add_resume_and_strict_args,
                          dump_json_atomic, json_ready, register_all_modules)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Compare test-time adaptation methods')
    parser.add_argument('--configs', nargs='+', required=True,
                        help='test-time adaptation configs, one per method')
    parser.add_argument('--checkpoints', nargs='+', required=True,
                        help='one source checkpoint per config, or one for '
                        'all')
    parser.add_argument('--names', nargs='+',
                        help='method names; default the config file names')
    add_common_args(parser, seeds=(0, 1, 2), work_dir_required=True)
    parser.add_argument('--sync-steps', type=int,
                        help='also run the synchronisation analysis with '
                        'this many adaptation steps')
    parser.add_argument('--sync-interval', type=int, default=5,
                        help='adaptation steps between two scorings of the '
                        'synchronisation analysis')
    parser.add_argument('--sync-tolerance', type=float, default=0.0,
                        help='a task\'s best step is the earliest within '
                        'this many percentage points of its best')
    add_resume_and_strict_args(
        parser, '(checkpoint or method, seed, domain)', 'WORK_DIR/parts/')
    return parser.parse_args(argv)


def method_names(configs: Sequence[str], names=None) -> List[str]:
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


def _folder(name: str) -> str:
    """A method name as one path component."""
    return quote(name, safe='')


def sync_reports(cfg: Config, checkpoint: str,
                 domains: Sequence[dict], seed: int, name: str,
                 out_dir: str, steps: int, interval: int, tolerance: float,
                 resume: bool) -> Dict[str, dict]:
    """The synchronisation analysis of one method on every domain, each
    domain's report stored as it finishes and reused with ``resume``."""
    store = DomainResults(
        osp.join(out_dir, 'parts', 'methods', _folder(name), 'sync'), resume)
    seeded = with_seed(cfg, seed)
    keys = {d['name']: result_key(seeded, checkpoint, d, seed,
                                  sync=[steps, interval, tolerance])
            for d in domains}
    reports = {d['name']: store.load(d['name'], keys[d['name']])
               for d in domains}
    for domain in [d for d in domains if reports[d['name']] is None]:
        report = run_sync_analysis(
            cfg, checkpoint, [domain], steps=steps, interval=interval,
            seed=seed, work_dir=osp.join(out_dir, name), name=f'{name}_sync',
            plot_dir=osp.join(out_dir, 'sync'),
            tolerance=tolerance)[domain['name']]
        reports[domain['name']] = store.save(domain['name'],
                                             keys[domain['name']], report)
    return reports


def compare(configs: Sequence[Config], paths: Sequence[str],
            names: Sequence[str], checkpoints: Sequence[str],
            seeds: Sequence[int], domains_key: str, out_dir: str,
            sync_steps=None, sync_interval: int = 5,
            sync_tolerance: float = 0.0, resume: bool = False) -> dict:
    """Run every method on every domain and seed; see the module doc."""
    if len(checkpoints) == 1:
        checkpoints = list(checkpoints) * len(configs)
    if len(checkpoints) != len(configs):
        raise ValueError(f'--checkpoints gives {len(checkpoints)} '
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

    parts = osp.join(out_dir, 'parts')
    source = OrderedDict()
    for ckpt, label in labels.items():
        cfg = configs[checkpoints.index(ckpt)]
        progress(f'source-only {label}')
        store = DomainResults(
            osp.join(parts, 'source', file_digest(ckpt)[:16]), resume)
        source[label] = dict(checkpoint=ckpt, results=run_domains(
            cfg, ckpt, domains, adapt=False, seed=seeds[0],
            work_dir=osp.join(out_dir, f'source_{label}'),
            name=f'source_{label}', results=store))
    methods = OrderedDict()
    for cfg, path, name, ckpt in zip(configs, paths, names, checkpoints):
        adapted = []
        for seed in seeds:
            progress(f'{name} seed {seed}')
            store = DomainResults(osp.join(parts, 'methods', _folder(name),
                                           f'seed{seed}'), resume)
            adapted.append(run_domains(
                cfg, ckpt, domains, adapt=True, seed=seed,
                work_dir=osp.join(out_dir, name),
                name=f'{name}_seed{seed}', results=store))
        hook = tta_hook_cfg(cfg)
        methods[name] = dict(
            config=path, checkpoint=ckpt, source=labels[ckpt],
            adapter=hook['adapter'], protocol=hook.get('protocol'),
            summary=summarize(source[labels[ckpt]]['results'], adapted,
                              seeds))
        if sync_steps is not None:
            progress(f'{name} synchronisation analysis')
            methods[name]['sync'] = sync_reports(
                cfg, ckpt, domains, seeds[0], name, out_dir,
                sync_steps, sync_interval, sync_tolerance, resume)
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


def main(argv=None):
    args = parse_args(argv)
    register_all_modules(init_default_scope=False)
    for ckpt in args.checkpoints:
        if not osp.isfile(ckpt):
            raise FileNotFoundError(
                f'checkpoint {ckpt!r} does not exist; train one with '
                'tools/train.py or pass the path of a .pth file')
    names = method_names(args.configs, args.names)
    configs = []
    for path in args.configs:
        cfg = Config.fromfile(path)
        if args.cfg_options is not None:
            cfg.merge_from_dict(args.cfg_options)
        apply_launcher(cfg, args)
        configs.append(cfg)
    results = compare(configs, args.configs, names, args.checkpoints,
                      args.seeds, args.domains, args.work_dir,
                      args.sync_steps, args.sync_interval,
                      args.sync_tolerance, resume=args.resume)
    notes = divergence_notes(results)
    text = (f'# Method comparison on {args.domains}, seeds {args.seeds}'
            '\n\ndelta_m against the source-only result of the method\'s '
            'own checkpoint; mean ± std over seeds.\n\n' +
            comparison_table(results) + '\n\n' +
            (f'{notes}\n\n' if notes else '') + overall_table(results) +
            '\n')
    md = osp.join(args.work_dir, 'comparison.md')
    atomic_write_bytes(text.encode(), md)
    dump_json_atomic(results, osp.join(args.work_dir, 'comparison.json'))
    print_log(f'{text}\ntable: {md}', logger='current')
    diverged = diverged_units(results)
    if args.strict and diverged:
        print_log(f'--strict: {len(diverged)} diverged (domain, method): '
                  f'{diverged}', logger='current', level=30)
        sys.exit(DIVERGED_EXIT_STATUS)
    return results


if __name__ == '__main__':
    main()
