"""Task synchronisation analysis: each task's metric along adaptation.

    python tools/analysis_tools/analyze_sync.py CONFIG --checkpoint CKPT
        [--steps 40] [--interval 5] [--tolerance 0]
        [--domains target_domains] [--only NAME ...] [--seeds 0]
        [--work-dir DIR] [--out FILE.json] [--resume]
        [--cfg-options k=v ...] [--launcher L]

For each target domain of the config (a test-time adaptation config with the
paper protocol): reset to the checkpoint, adapt step by step on the
unlabeled adaptation batch, and every ``interval`` steps score each task on
the domain's labelled test set (labels are only scored, never adapted on).
Prints each task's best step and the spread of best steps across tasks,
writes one PNG per domain (``DIR/sync/sync_<config name>_<domain>.png``:
per-task relative improvement over step 0 against the step, up = better)
and a JSON of all reports. Each domain's report is kept in
``DIR/parts/methods/<config name>/sync/``, the cache that
``tools/compare_methods.py --sync-steps`` and ``tools/benchmark_methods.py``
use too; ``--resume`` reuses it.
"""
import argparse
import os.path as osp

from mmengine.logging import print_log

from s4t_mm.apis import sync_reports
from s4t_mm.apis.relation_analysis import select_domains
from s4t_mm.engine.launch import (add_checkpoint_arg, add_common_args,
                                  config_from_args, one_seed,
                                  resolve_checkpoint)
from s4t_mm.utils import dump_json_atomic, register_all_modules


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Per-task metric along test-time adaptation')
    parser.add_argument('config', help='test-time adaptation config')
    add_checkpoint_arg(parser, positional=True)
    parser.add_argument('--steps', type=int, default=None,
                        help='adaptation steps per batch; default the '
                        "config's")
    parser.add_argument('--interval', type=int, default=5,
                        help='adaptation steps between two scorings')
    parser.add_argument('--tolerance', type=float, default=0.0,
                        help='a task\'s best step is the earliest within '
                        'this many percentage points of its best relative '
                        'improvement')
    parser.add_argument('--only', nargs='+',
                        help='analyse only these domain names')
    parser.add_argument('--out', help='results JSON path')
    parser.add_argument('--resume', action='store_true',
                        help='reuse the domains an earlier run with the '
                        'same settings analysed (WORK_DIR/parts/)')
    add_common_args(parser)
    args = parser.parse_args(argv)
    resolve_checkpoint(parser, args)
    args.seed = one_seed(parser, args)
    return args


def main(argv=None):
    args = parse_args(argv)
    register_all_modules(init_default_scope=False)
    cfg = config_from_args(args)
    domains = select_domains(cfg, args.domains, args.only, source=False)
    name = osp.splitext(osp.basename(args.config))[0]
    reports = sync_reports(cfg, args.checkpoint, domains, args.seed, name,
                           cfg.work_dir, args.steps, args.interval,
                           args.tolerance, resume=args.resume)
    out = args.out or osp.join(cfg.work_dir, 'sync_results.json')
    dump_json_atomic(dict(config=args.config, checkpoint=args.checkpoint,
                          steps=args.steps, interval=args.interval,
                          tolerance=args.tolerance,
                          seed=args.seed, domains=reports), out)
    lines = [f'{d}: best step {r["best_step"]}, spread {r["spread"]}, '
             f'plot {r.get("plot")}' for d, r in reports.items()]
    print_log('\n'.join(lines + [f'results: {out}']), logger='current')
    return reports


if __name__ == '__main__':
    main()
