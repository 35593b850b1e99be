"""Compare test-time adaptation methods on the same target domains.

    python tools/compare_methods.py --configs CFG_A CFG_B ...
        --checkpoint CKPT [CKPT_B ...] --work-dir DIR
        [--names A B ...] [--seeds 0 1 2] [--domains target_domains]
        [--sync-steps N --sync-interval K [--sync-tolerance PP]]
        [--resume] [--strict] [--cfg-options k=v ...] [--launcher L]

Each config is a test-time adaptation config (a ``TestTimeAdaptHook`` in
``custom_hooks``); ``--checkpoint`` (or ``--checkpoints``) gives one source
checkpoint per config or one shared by all. Every checkpoint is tested once
source-only, every method once per seed, on every domain of ``--domains``.
Writes ``DIR/comparison.md`` (rows domain x method: each task's metric and
delta_m, mean ± std over seeds) and ``DIR/comparison.json``; with
``--sync-steps`` the task-synchronisation analysis also runs on every
domain (seed = the first seed) and the table gets each task's best step.

Every finished unit is kept in ``DIR/parts/`` (:mod:`s4t_mm.apis.comparison`);
with ``--resume`` a killed comparison started again redoes nothing. A
diverged (domain, method) reads ``diverged`` and is left out of the means;
``--strict`` then exits with status 3 after writing everything.
"""
import argparse
import sys

from mmengine.config import Config
from mmengine.logging import print_log

from s4t_mm.apis import compare, method_names, write_comparison
from s4t_mm.apis.comparison import diverged_units
from s4t_mm.engine.launch import (add_checkpoint_arg, add_common_args,
                                  apply_launcher, check_checkpoint)
from s4t_mm.utils import (DIVERGED_EXIT_STATUS, add_resume_and_strict_args,
                          register_all_modules)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Compare test-time adaptation methods')
    parser.add_argument('--configs', nargs='+', required=True,
                        help='test-time adaptation configs, one per method')
    add_checkpoint_arg(parser, several=True)
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


def main(argv=None):
    args = parse_args(argv)
    register_all_modules(init_default_scope=False)
    for ckpt in args.checkpoint:
        check_checkpoint(ckpt)
    names = method_names(args.configs, args.names)
    configs = []
    for path in args.configs:
        cfg = Config.fromfile(path)
        if args.cfg_options is not None:
            cfg.merge_from_dict(args.cfg_options)
        apply_launcher(cfg, args)
        configs.append(cfg)
    results = compare(configs, args.configs, names, args.checkpoint,
                      args.seeds, args.domains, args.work_dir,
                      args.sync_steps, args.sync_interval,
                      args.sync_tolerance, resume=args.resume)
    write_comparison(results, args.work_dir)
    diverged = diverged_units(results)
    if args.strict and diverged:
        print_log(f'--strict: {len(diverged)} diverged (domain, method): '
                  f'{diverged}', logger='current', level=30)
        sys.exit(DIVERGED_EXIT_STATUS)
    return results


if __name__ == '__main__':
    main()
