"""Evaluate a source checkpoint on target domains, source-only and adapted.

    python tools/test_time_adapt.py CONFIG --checkpoint CKPT
        [--work-dir DIR] [--out FILE.json] [--seeds 0 1 2] [--resume]
        [--strict] [--domains target_domains] [--show-dir DIR]
        [--cfg-options k=v ...] [--launcher {none,pytorch}]

The config is an ordinary test config with a ``TestTimeAdaptHook`` in
``custom_hooks`` and a ``target_domains`` list. Each domain is tested once
without the hook (source-only) and once per seed with it; the per-task table
with delta_m is printed and everything is written to a JSON (default
``<work_dir>/tta_results.json``).

Each finished domain of each run is written at once to
``<out without .json>.parts/<run>/<domain>.json``; with ``--resume`` a
killed run started again with the same arguments skips them and ends with
the same JSON. A domain whose adaptation diverged is marked ``diverged``
and left out of ``mean_delta_m``; ``--strict`` then exits with status 3.
"""
import argparse
import os.path as osp
import sys

from mmengine.dist import get_rank
from mmengine.logging import print_log

from s4t_mm.apis import (DomainResults, check_domains, divergence_note,
                         format_table, run_domains, summarize, tta_hook_cfg)
from s4t_mm.engine.hooks import compose_comparisons, with_visualization_hook
from s4t_mm.engine.launch import (add_common_args, apply_launcher,
                                  load_tool_config)
from s4t_mm.evaluation.functional import delta_m_keys
from s4t_mm.utils import (DIVERGED_EXIT_STATUS, add_resume_and_strict_args,
                          dump_json_atomic, register_all_modules)


def parse_args():
    parser = argparse.ArgumentParser(description='Test-time adaptation')
    parser.add_argument('config', help='test-time adaptation config')
    parser.add_argument('--checkpoint', required=True,
                        help='source-trained checkpoint')
    parser.add_argument('--out', help='results JSON path')
    add_common_args(parser)
    add_resume_and_strict_args(parser, '(run, domain)',
                               '<out without .json>.parts/')
    parser.add_argument('--show-dir',
                        help='draw every target image with ground truth, '
                        'source-only and adapted predictions side by side '
                        'into DIR/comparison/<domain>/ (per-run drawings in '
                        'DIR/<run>/<domain>/)')
    return parser.parse_args()


def main():
    args = parse_args()
    register_all_modules(init_default_scope=False)
    cfg = load_tool_config(args.config, args.checkpoint, args.work_dir,
                           args.cfg_options)
    apply_launcher(cfg, args)
    hook = tta_hook_cfg(cfg)
    if hook is None:
        raise ValueError(f'{args.config} has no TestTimeAdaptHook in '
                         'custom_hooks; nothing to adapt with')
    domains = check_domains(cfg, args.domains)

    names = [d['name'] for d in domains]
    out = args.out or osp.join(cfg.work_dir, 'tta_results.json')
    parts = osp.splitext(out)[0] + '.parts'

    def run(tag, adapt, seed):
        run_cfg = with_visualization_hook(cfg, args.show_dir, tag, names) \
            if args.show_dir else cfg
        return run_domains(
            run_cfg, args.checkpoint, domains, adapt=adapt, seed=seed,
            work_dir=cfg.work_dir, name=tag,
            results=DomainResults(osp.join(parts, tag), args.resume))

    source = run('source_only', False, args.seeds[0])
    adapted = [run(f'adapted_seed{seed}', True, seed) for seed in args.seeds]
    summary = summarize(source, adapted, args.seeds)
    if get_rank() != 0:
        return
    if args.show_dir:
        written = compose_comparisons(
            args.show_dir,
            ['source_only'] + [f'adapted_seed{s}' for s in args.seeds])
        print_log(f'{len(written)} side-by-side drawings in '
                  f'{osp.join(args.show_dir, "comparison")}',
                  logger='current')
    first = next(iter(summary.values()))
    table = format_table(summary, delta_m_keys(first['adapted'],
                                               first['source']))
    protocol = hook.get('protocol', dict(type='episodic', steps=1))
    protocol = dict(type=protocol) if isinstance(protocol, str) else protocol
    diverged = [d for d, s in summary.items() if s['diverged']]
    kept = [s['delta_m'] for s in summary.values() if not s['diverged']]
    results = dict(
        config=args.config,
        checkpoint=args.checkpoint,
        method=hook['adapter']['type'],
        adapter=hook['adapter'],
        protocol=protocol,
        steps=protocol.get('steps'),
        seeds=args.seeds,
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
              f'-> adapted, mean ± std over seeds {args.seeds}:\n{table}\n'
              + (f'{note}\n' if note else '') +
              f'mean delta_m: {mean}\nresults: {out}', logger='current')
    if args.strict and diverged:
        print_log(f'--strict: {len(diverged)} diverged domain(s): '
                  f'{", ".join(diverged)}', logger='current', level=30)
        sys.exit(DIVERGED_EXIT_STATUS)


if __name__ == '__main__':
    main()
