"""Compare test-time adaptation methods on the same target domains.

    python tools/compare_methods.py --configs CFG_A CFG_B ...
        --checkpoints CKPT [CKPT_B ...] --out-dir DIR
        [--names A B ...] [--seeds 0 1 2] [--domains-key target_domains]
        [--sync-steps N --sync-interval K [--sync-tolerance PP]]
        [--cfg-options k=v ...]

Each config is a test-time adaptation config (a ``TestTimeAdaptHook`` in
``custom_hooks``); ``--checkpoints`` gives one source checkpoint per config
or one shared by all. Every checkpoint is tested once source-only, every
method once per seed, on every domain of ``--domains-key``; a seed sets the
adaptation's random draws and, with the paper protocol, which target
images it adapts on. Writes
``DIR/comparison.md`` (rows domain x method: each task's metric and delta_m,
mean ± std over seeds) and ``DIR/comparison.json``. delta_m is measured
against the source-only result of the method's own checkpoint; the JSON
also has it against the first checkpoint's (``delta_m_vs_reference``), for
methods whose source models differ. With
``--sync-steps`` the task-synchronisation analysis also runs on every
domain (seed = the first seed) and the table gets each task's best step.
"""
import argparse
import os
import os.path as osp
from collections import OrderedDict
from typing import Dict, List, Sequence

import numpy as np
from mmengine.config import Config, DictAction
from mmengine.logging import print_log

from s4t_mm.apis import check_domains, run_domains, summarize, tta_hook_cfg
from s4t_mm.evaluation.functional import delta_m, delta_m_keys
from s4t_mm.tta.sync_analysis import run_sync_analysis
from s4t_mm.utils import dump_json_atomic, register_all_modules


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
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    parser.add_argument('--domains-key', default='target_domains',
                        help='config key of the domain list')
    parser.add_argument('--out-dir', required=True,
                        help='where logs, tables and plots go')
    parser.add_argument('--sync-steps', type=int,
                        help='also run the synchronisation analysis with '
                        'this many adaptation steps')
    parser.add_argument('--sync-interval', type=int, default=5,
                        help='adaptation steps between two scorings of the '
                        'synchronisation analysis')
    parser.add_argument('--sync-tolerance', type=float, default=0.0,
                        help='a task\'s best step is the earliest within '
                        'this many percentage points of its best')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override keys of every config')
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
    if len(values) == 1:
        return format(values[0], fmt)
    return f'{np.mean(values):{fmt}} ± {np.std(values):{fmt.lstrip("+")}}'


def comparison_table(results: dict) -> str:
    """Markdown: one row per domain and method (source-only rows first);
    each metric and delta_m as mean ± std over seeds."""
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
                _cell([m[k] for m in per_seed]) for k in keys]
            cells.append(_cell(s['delta_m_per_seed'], '+.2f'))
            if sync:
                report = (method.get('sync') or {}).get(domain)
                cells.append('' if report is None else ', '.join(
                    f'{t} {b}' for t, b in report['best_step'].items()) +
                    f' ({report["spread"]})')
            lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def overall_table(results: dict) -> str:
    """Markdown: per method, delta_m averaged over domains (mean ± std over
    seeds) and the domains where its delta_m is the best of all methods."""
    methods = results['methods']
    best = {name: [] for name in methods}
    for domain in results['domains']:
        top = max(methods, key=lambda n: methods[n]['summary'][domain][
            'delta_m'])
        best[top].append(domain)
    lines = ['| method | mean delta_m over domains (%) | best on |',
             '|---|---|---|']
    for name, method in methods.items():
        per_seed = np.mean([method['summary'][d]['delta_m_per_seed']
                            for d in results['domains']], axis=0)
        lines.append(f'| {name} | {_cell(list(per_seed), "+.2f")} | '
                     f'{", ".join(best[name]) or "-"} |')
    return '\n'.join(lines)


def compare(configs: Sequence[Config], paths: Sequence[str],
            names: Sequence[str], checkpoints: Sequence[str],
            seeds: Sequence[int], domains_key: str, out_dir: str,
            sync_steps=None, sync_interval: int = 5,
            sync_tolerance: float = 0.0) -> dict:
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

    source = OrderedDict()
    for ckpt, label in labels.items():
        cfg = configs[checkpoints.index(ckpt)]
        progress(f'source-only {label}')
        source[label] = dict(checkpoint=ckpt, results=run_domains(
            cfg, ckpt, domains, adapt=False, seed=seeds[0],
            work_dir=osp.join(out_dir, f'source_{label}'),
            name=f'source_{label}'))
    methods = OrderedDict()
    for cfg, path, name, ckpt in zip(configs, paths, names, checkpoints):
        adapted = []
        for seed in seeds:
            progress(f'{name} seed {seed}')
            adapted.append(run_domains(
                cfg, ckpt, domains, adapt=True, seed=seed,
                work_dir=osp.join(out_dir, name),
                name=f'{name}_seed{seed}'))
        hook = tta_hook_cfg(cfg)
        methods[name] = dict(
            config=path, checkpoint=ckpt, source=labels[ckpt],
            adapter=hook['adapter'], protocol=hook.get('protocol'),
            summary=summarize(source[labels[ckpt]]['results'], adapted,
                              seeds))
        if sync_steps is not None:
            progress(f'{name} synchronisation analysis')
            methods[name]['sync'] = run_sync_analysis(
                cfg, ckpt, domains, steps=sync_steps,
                interval=sync_interval, seed=seeds[0],
                work_dir=osp.join(out_dir, name), name=f'{name}_sync',
                plot_dir=osp.join(out_dir, 'sync'),
                tolerance=sync_tolerance)
    first = next(iter(methods.values()))['summary'][domains[0]['name']]
    keys = delta_m_keys(first['adapted'], first['source'])
    reference = next(iter(source.values()))['results']
    for method in methods.values():
        for domain, s in method['summary'].items():
            ref = reference[domain]['metrics']
            s['delta_m_vs_reference'] = float(np.mean([
                delta_m(m, ref, keys)
                for m in s['adapted_per_seed'].values()]))
    return dict(seeds=list(seeds), domains_key=domains_key,
                domains=[d['name'] for d in domains], keys=keys,
                reference_source=next(iter(source)), source=source,
                methods=methods)


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
        configs.append(cfg)
    results = compare(configs, args.configs, names, args.checkpoints,
                      args.seeds, args.domains_key, args.out_dir,
                      args.sync_steps, args.sync_interval,
                      args.sync_tolerance)
    text = (f'# Method comparison on {args.domains_key}, seeds {args.seeds}'
            '\n\ndelta_m against the source-only result of the method\'s '
            'own checkpoint; mean ± std over seeds.\n\n' +
            comparison_table(results) + '\n\n' + overall_table(results) +
            '\n')
    os.makedirs(args.out_dir, exist_ok=True)
    md = osp.join(args.out_dir, 'comparison.md')
    with open(md, 'w') as f:
        f.write(text)
    dump_json_atomic(results, osp.join(args.out_dir, 'comparison.json'))
    print_log(f'{text}\ntable: {md}', logger='current')
    return results


if __name__ == '__main__':
    main()
