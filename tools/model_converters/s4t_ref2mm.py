"""Convert a checkpoint of the S4T reference code (github wooseong97/S4T-mtl,
ResNet-50, any of its three source -> target pairs) to s4t_mm.

    python tools/model_converters/s4t_ref2mm.py SRC DST

SRC is the reference's ``checkpoint_<iter>.pth.tar`` of source training; the
pair is recognised from its task heads. DST loads strictly into the matching
config, which the script names, e.g.::

    python tools/test_time_adapt.py configs/s4t/nyud_taskonomy_r50.py \\
        --checkpoint DST

The conversion (task renaming, the per-task channel blocks of the
compressor, the patch embedding and the decoder's output layer) is
:mod:`s4t_mm.apis.reference_checkpoint`.
"""
import argparse

from mmengine.logging import print_log

from s4t_mm.apis.reference_checkpoint import convert_reference_checkpoint


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Convert an S4T reference checkpoint to s4t_mm')
    parser.add_argument('src', help="the reference's checkpoint")
    parser.add_argument('dst', help='where to write the s4t_mm checkpoint')
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    meta = convert_reference_checkpoint(args.src, args.dst)
    print_log(f"{args.src} ({meta['reference_pair']}, iteration "
              f"{meta['iter_count']}) -> {args.dst}; load it with "
              f"{meta['config']}", logger='current')
    return meta


if __name__ == '__main__':
    main()
