"""Evaluate a source checkpoint on target domains, source-only and adapted.

    python tools/test_time_adapt.py CONFIG --checkpoint CKPT
        [--work-dir DIR] [--out FILE.json] [--seeds 0 1 2] [--resume]
        [--strict] [--domains target_domains] [--show-dir DIR]
        [--cfg-options k=v ...] [--launcher {none,pytorch}]

(``CONFIG CKPT``, mmseg's positional spelling, works too.) The config is an
ordinary test config with a ``TestTimeAdaptHook`` in ``custom_hooks`` and a
``target_domains`` list. As mmseg's ``tools/test.py``: the checkpoint goes
into ``cfg.load_from`` and each run is ``Runner.from_cfg(cfg).test()``,
whose :class:`~s4t_mm.engine.TestTimeAdaptLoop` walks the domains: once
source-only, once per seed adapted with the hook's settings. The per-task
table with delta_m is printed and everything is written to a JSON (default
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

from mmengine.logging import print_log
from mmengine.runner import Runner

from s4t_mm.apis import adaptation_runs, write_adaptation_results
from s4t_mm.engine.launch import (add_checkpoint_arg, add_common_args,
                                  config_from_args, resolve_checkpoint)
from s4t_mm.utils import (DIVERGED_EXIT_STATUS, add_resume_and_strict_args,
                          register_all_modules)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Test-time adaptation')
    parser.add_argument('config', help='test-time adaptation config')
    add_checkpoint_arg(parser, positional=True)
    parser.add_argument('--out', help='results JSON path')
    add_common_args(parser)
    add_resume_and_strict_args(parser, '(run, domain)',
                               '<out without .json>.parts/')
    parser.add_argument('--show-dir',
                        help='draw every target image with ground truth, '
                        'source-only and adapted predictions side by side '
                        'into DIR/comparison/<domain>/ (per-run drawings in '
                        'DIR/<run>/<domain>/)')
    args = parser.parse_args(argv)
    resolve_checkpoint(parser, args)
    return args


def main(argv=None):
    args = parse_args(argv)
    register_all_modules(init_default_scope=False)
    cfg = config_from_args(args)
    cfg.load_from = args.checkpoint
    out = args.out or osp.join(cfg.work_dir, 'tta_results.json')
    runs = adaptation_runs(cfg, args.config, args.domains, args.seeds, out,
                           resume=args.resume, show_dir=args.show_dir)
    reports = {name: Runner.from_cfg(run_cfg).test()
               for name, run_cfg in runs.items()}
    results = write_adaptation_results(cfg, args.config, reports, args.seeds,
                                       out, show_dir=args.show_dir)
    if args.strict and results is not None and results['diverged_domains']:
        diverged = results['diverged_domains']
        print_log(f'--strict: {len(diverged)} diverged domain(s): '
                  f'{", ".join(diverged)}', logger='current', level=30)
        sys.exit(DIVERGED_EXIT_STATUS)
    return results


if __name__ == '__main__':
    main()
