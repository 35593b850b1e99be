"""Does the cross-task consistency energy rank helpful against harmful
adaptation?

    python tools/analysis_tools/probe_consistency.py TABLE
        [--methods NAME ...] [--seeds 0 1] [--domains KEY]
        [--work-dir DIR] [--cfg-options k=v ...]

TABLE is a benchmark method table (``tools/benchmark_methods.py``) with a
``consistency_reference`` domain (source-style images that standardise the
energy). The benchmark runs first (resumable, in the same work dir, no
synchronisation analysis); then, per domain and seed, the energy of the
source state and of each method's adapted state on the paper protocol's
adaptation batch. Writes ``WORK/consistency_probe.json`` and ``.md``
(:mod:`s4t_mm.apis.consistency_probe`).
"""
import argparse
import os.path as osp

from mmengine.config import Config
from mmengine.logging import print_log

from s4t_mm.apis.consistency_probe import consistency_probe, probe_report
from s4t_mm.engine.launch import add_common_args
from s4t_mm.utils import register_all_modules


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Consistency energy of the source and adapted states '
        'against each method\'s delta_m')
    parser.add_argument('table', help='method table config')
    parser.add_argument('--methods', nargs='+',
                        help='probe only these methods of the table')
    add_common_args(parser, seeds=None, domains=None, launcher=False)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    # models and adapters are built here, outside a Runner's scope
    register_all_modules(init_default_scope=True)
    table = Config.fromfile(args.table)
    if args.cfg_options is not None:
        table.merge_from_dict(args.cfg_options)
    work_dir = args.work_dir or osp.join(
        'work_dirs', osp.splitext(osp.basename(args.table))[0])
    result = consistency_probe(table, work_dir, names=args.methods,
                               seeds=args.seeds, domains_key=args.domains)
    print_log(probe_report(result), logger='current')
    return result


if __name__ == '__main__':
    main()
