"""Write a calibrated copy of a source checkpoint: the source's own
batch-to-batch spread of every BatchNorm layer's statistics, which the
gated normalisation policy (``norm_policy=dict(type='gated')``) tests
target batches against.

    python tools/analysis_tools/calibrate_norm_stats.py \\
        configs/s4t/synthetic_r18_source_converged.py \\
        work_dirs/synthetic_r18_source_converged/iter_3000.pth \\
        --out work_dirs/synthetic_r18_source_converged/iter_3000_calibrated.pth
"""
import argparse

from s4t_mm.apis.norm_calibration import calibrate_checkpoint
from s4t_mm.engine.launch import add_checkpoint_arg, resolve_checkpoint
from s4t_mm.utils import register_all_modules


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config', help='the source model\'s config')
    add_checkpoint_arg(parser, positional=True)
    parser.add_argument('--out', required=True,
                        help='where the calibrated copy goes (a new file)')
    parser.add_argument('--num-batches', type=int, default=16,
                        help='source batches the spread is measured on')
    parser.add_argument('--batch-size', type=int, default=None,
                        help='their size; default the test loader\'s (the '
                        'adaptation batch size)')
    args = parser.parse_args()
    resolve_checkpoint(parser, args)
    return args


def main():
    args = parse_args()
    register_all_modules()
    calibration = calibrate_checkpoint(args.config, args.checkpoint,
                                       args.out, args.num_batches,
                                       args.batch_size)
    print(f'calibrated {len(calibration["layers"])} BatchNorm layers on '
          f'{calibration["num_batches"]} source batches of '
          f'{calibration["batch_size"]}: {args.out}')


if __name__ == '__main__':
    main()
