"""Draw how far each BatchNorm layer's statistics moved under each target
domain (in source batch-to-batch spreads) and the weight the gated policy
gave the target statistics, from the results a benchmark stored:

    python tools/benchmark_methods.py \
        configs/benchmark/synthetic_norm_diagnosis.py \
        --work-dir work_dirs/norm_diagnosis
    python tools/analysis_tools/plot_norm_shift.py work_dirs/norm_diagnosis \\
        --method bn_adapt_gated --threshold 6 --out docs/figures/norm_shift.png
        [--seeds 0] [--domains policy_validation_domains] [--only NAME ...]

``--domains`` is a config key, as in every tool: the domain list of the
method's config that the benchmark stored (``WORK_DIR/configs/<method>.py``);
``--only`` names domains (default: every stored one, in the stored order).
"""
import argparse

from s4t_mm.apis.norm_diagnosis import (plot_stored_norm_diagnosis,
                                        stored_domain_names)
from s4t_mm.engine.launch import add_common_args, one_seed


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('work_dir_positional', metavar='WORK_DIR',
                        nargs='?', help="the benchmark's --work-dir (the "
                        'same as --work-dir)')
    parser.add_argument('--method', required=True,
                        help='a method of it with the gated norm policy')
    parser.add_argument('--threshold', type=float, default=None,
                        help='draw the policy\'s threshold')
    parser.add_argument('--only', nargs='+',
                        help='only these domains (names), in this order')
    parser.add_argument('--out', required=True, help='the PNG to write')
    add_common_args(parser, domains=None, launcher=False,
                    with_cfg_options=False)
    args = parser.parse_args(argv)
    if args.work_dir_positional and args.work_dir:
        parser.error('the work dir is given twice; give WORK_DIR or '
                     '--work-dir')
    args.work_dir = args.work_dir_positional or args.work_dir
    del args.work_dir_positional
    if not args.work_dir:
        parser.error("the benchmark's work dir is required: WORK_DIR")
    args.seed = one_seed(parser, args)
    return args


def main(argv=None) -> str:
    args = parse_args(argv)
    domains = args.only
    if args.domains:  # the config key, read from the stored method config
        domains = stored_domain_names(args.work_dir, args.method,
                                      args.domains, args.only)
    out = plot_stored_norm_diagnosis(args.work_dir, args.method, args.out,
                                     args.seed, args.threshold, domains)
    print(out)
    return out


if __name__ == '__main__':
    main()
