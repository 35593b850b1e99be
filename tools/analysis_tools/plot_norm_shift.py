"""Draw how far each BatchNorm layer's statistics moved under each target
domain (in source batch-to-batch spreads) and the weight the gated policy
gave the target statistics, from the results a benchmark stored:

    python tools/benchmark_methods.py \
        configs/benchmark/synthetic_norm_diagnosis.py \
        --work-dir work_dirs/norm_diagnosis
    python tools/analysis_tools/plot_norm_shift.py work_dirs/norm_diagnosis \\
        --method bn_adapt_gated --threshold 6 --out docs/figures/norm_shift.png
"""
import argparse

from s4t_mm.apis.norm_diagnosis import plot_stored_norm_diagnosis


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('work_dir', help='the benchmark\'s --work-dir')
    parser.add_argument('--method', required=True,
                        help='a method of it with the gated norm policy')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--threshold', type=float, default=None,
                        help='draw the policy\'s threshold')
    parser.add_argument('--domains', nargs='+', default=None,
                        help='these domains, in this order (default all)')
    parser.add_argument('--out', required=True, help='the PNG to write')
    return parser.parse_args()


def main():
    args = parse_args()
    print(plot_stored_norm_diagnosis(args.work_dir, args.method, args.out,
                                     args.seed, args.threshold,
                                     args.domains))


if __name__ == '__main__':
    main()
