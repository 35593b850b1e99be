"""Benchmark every method of a method table on every domain and seed.

    python tools/benchmark_methods.py TABLE [--methods NAME ...]
        [--seeds 0 1 2] [--domains KEY] [--work-dir DIR] [--no-sync]
        [--jobs N] [--verbose] [--cfg-options k=v ...] [--launcher L]

TABLE is a config like ``configs/benchmark/synthetic_methods.py``: the
model and data of a source config, ``methods`` (name -> adapter config),
``protocol``, ``seeds``, ``domains_key``, ``source_work_dir`` and
``train_config`` (how the source model is made), optionally
``sync_methods`` and ``continual=True`` (:mod:`s4t_mm.apis.benchmark`).
``--seeds`` and ``--domains`` default to the table's, ``--work-dir`` to
``work_dirs/<table name>``.

Trains the source model unless ``source_work_dir`` holds a checkpoint,
writes one config per method into ``WORK/configs/``, compares them with
resumption (``WORK/comparison.md``, ``WORK/parts/``: killed and run again,
the benchmark skips every finished (method, seed, domain)), runs the
synchronisation analysis of ``sync_methods`` and writes ``WORK/benchmark.md``.

By default the stages run in ``--jobs`` worker processes (one per core)
and the terminal shows one line per stage (rendering, training with a
progress bar, each run x domain) and then ``benchmark.md``; every log goes
to ``WORK/logs/``, ``WORK/benchmark.log`` and each Runner's work dir
(:mod:`s4t_mm.apis.benchmark_workers`). ``--verbose`` runs everything in
this process with mmengine's full output on the terminal, as does a
``--launcher`` other than ``none``. Either way the results are the same
(bitwise with the same ``OMP_NUM_THREADS``).
"""
import argparse
import os.path as osp

from mmengine.config import Config

from s4t_mm.apis import run_benchmark, run_in_workers
from s4t_mm.engine.launch import add_common_args, apply_launcher
from s4t_mm.utils import register_all_modules


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Every method x every domain x seeds, resumable')
    parser.add_argument('table', help='method table config')
    parser.add_argument('--methods', nargs='+',
                        help='run only these methods of the table')
    parser.add_argument('--no-sync', action='store_true',
                        help='skip the synchronisation analysis')
    parser.add_argument('--jobs', type=int,
                        help='worker processes (default: one per CPU core)')
    parser.add_argument('--verbose', action='store_true',
                        help="run in this process with mmengine's full "
                        'output on the terminal')
    # defaults: the table's seeds and domains_key, work_dirs/<table name>
    add_common_args(parser, seeds=None, domains=None)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    register_all_modules(init_default_scope=False)
    table = Config.fromfile(args.table)
    if args.cfg_options is not None:
        table.merge_from_dict(args.cfg_options)
    apply_launcher(table, args)
    work_dir = args.work_dir or osp.join(
        'work_dirs', osp.splitext(osp.basename(args.table))[0])
    if args.verbose or table.get('launcher', 'none') != 'none':
        return run_benchmark(table, work_dir, names=args.methods,
                             seeds=args.seeds, domains_key=args.domains,
                             sync=not args.no_sync)
    return run_in_workers(table, work_dir, names=args.methods,
                          seeds=args.seeds, domains_key=args.domains,
                          sync=not args.no_sync, jobs=args.jobs)


if __name__ == '__main__':
    main()
