"""Write a calibrated copy of a source checkpoint, for every
normalisation policy that needs one: the source's own batch-to-batch
spread of every BatchNorm layer's statistics (the gated policy,
``norm_policy=dict(type='gated')``, tests target batches against it) and
the shift-response rule fitted on the labelled source under simulated
shifts (``norm_policy=dict(type='shift_response')``).

    python tools/analysis_tools/calibrate_norm_stats.py \\
        configs/s4t/synthetic_r18_source_converged.py \\
        work_dirs/synthetic_r18_source_converged/iter_3000.pth \\
        --out work_dirs/synthetic_r18_source_converged/iter_3000_calibrated.pth
"""
import argparse

from s4t_mm.apis.norm_calibration import calibrate_checkpoint
from s4t_mm.tta.norm_policies.calibrated_norm_policy import \
    SHIFT_RESPONSE_KEY
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
    parser.add_argument('--no-shift-response', action='store_true',
                        help='the spread only (no labelled source pass)')
    args = parser.parse_args()
    resolve_checkpoint(parser, args)
    return args


def main():
    args = parse_args()
    register_all_modules()
    calibration = calibrate_checkpoint(
        args.config, args.checkpoint, args.out, args.num_batches,
        args.batch_size, shift_response=not args.no_shift_response)
    print(f'calibrated {len(calibration["layers"])} BatchNorm layers on '
          f'{calibration["num_batches"]} source batches of '
          f'{calibration["batch_size"]}: {args.out}')
    rule = calibration.get(SHIFT_RESPONSE_KEY)
    if rule is not None:
        terms = ' + '.join(f'{w:.3f} * {name}' for name, w in zip(
            rule['features'], rule['weight'].tolist()))
        print(f'shift-response rule, from {rule["num_shifts"]} simulated '
              f'shifts ({100 * rule["helped"]:.0f} % helped by '
              f're-estimation): p = sigmoid({terms} + '
              f'{float(rule["bias"]):.3f})')


if __name__ == '__main__':
    main()
