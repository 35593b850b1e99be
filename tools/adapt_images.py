"""Adapt a multi-task checkpoint to your own unlabeled images and write its
predictions.

    python tools/adapt_images.py CONFIG CHECKPOINT INPUTS [INPUTS ...]
        --out-dir DIR [--method s4t|tent|bn|none]
        [--protocol paper|episodic|online] [--steps N] [--adapt-images N]
        [--batch-size B] [--device cpu|cuda] [--raw-format png|npy]
        [--extensions jpg png ...] [--resize W H] [--seed S] [--no-compare]
        [--cfg-options k=v ...]

INPUTS are image files, folders of images or videos, or video files (read
with OpenCV). DIR receives, per image and task, a readable picture
(``vis/<task>/``), the raw prediction (``raw/<task>/``: 16-bit PNG or
.npy), a source-only | adapted panel when adapting (``panels/``), and
``summary.json`` (images, skipped files, steps, losses, guard counters,
times, the adaptation cost per image). Unreadable files are skipped with a
warning and listed in the summary.

``--method`` picks the adapter; its settings come from the config's
``TestTimeAdaptHook`` when that uses the same adapter (the learning rate
chosen for the model), otherwise from the adapter's defaults. Without
``--method`` the config's adapter is used, or none. ``--protocol paper``
(the default) adapts ``--steps`` steps on the first ``--adapt-images``
images and then predicts all of them; ``episodic`` adapts on each batch
from the source weights; ``online`` adapts on each batch (a video, frame
after frame) and carries the weights on.
"""
import argparse

from mmengine.config import Config, DictAction

from s4t_mm.apis import MultiTaskInferencer
from s4t_mm.apis.inference_setup import (IMAGE_PROTOCOLS, METHOD_ADAPTERS,
                                         adaptation_cfgs)
from s4t_mm.utils import register_all_modules


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Adapt to unlabeled images and predict every task')
    parser.add_argument('config', help='config the checkpoint belongs to')
    parser.add_argument('checkpoint', help='source-trained checkpoint')
    parser.add_argument('inputs', nargs='+',
                        help='image files, folders or video files')
    parser.add_argument('--out-dir', required=True,
                        help='where pictures, raw maps, panels and '
                        'summary.json go')
    parser.add_argument('--method', choices=[*METHOD_ADAPTERS, 'none'],
                        help="adapter; default the config's, else none")
    parser.add_argument('--protocol', choices=IMAGE_PROTOCOLS,
                        help="default the config's, else paper")
    parser.add_argument('--steps', type=int,
                        help="adaptation steps per adapted batch; default "
                        "the config's protocol's")
    parser.add_argument('--adapt-images', type=int,
                        help='paper protocol: adapt on this many first '
                        'images (one batch); default --batch-size')
    parser.add_argument('--batch-size', type=int, default=4,
                        help='images per forward pass and per adaptation '
                        'batch (BatchNorm statistics need >= 2)')
    parser.add_argument('--device', help='cpu, cuda, cuda:1, ...; default '
                        'the available one')
    parser.add_argument('--raw-format', choices=['png', 'npy'],
                        default='png', help='16-bit PNG or float .npy')
    parser.add_argument('--extensions', nargs='+',
                        help='file extensions taken from folders')
    parser.add_argument('--resize', type=int, nargs=2, metavar=('W', 'H'),
                        help='keep-ratio resize bound before the model; '
                        "default the config's training scale (outputs stay "
                        'at the input size)')
    parser.add_argument('--seed', type=int, default=0,
                        help="seed of the adaptation's random draws")
    parser.add_argument('--no-compare', action='store_true',
                        help='skip the source-only predictions and panels')
    parser.add_argument('--no-progress', action='store_true')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config keys')
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    register_all_modules(init_default_scope=True)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    adapter, protocol = adaptation_cfgs(
        cfg, method=args.method, protocol=args.protocol, steps=args.steps,
        adapt_images=args.adapt_images, batch_size=args.batch_size)
    inferencer = MultiTaskInferencer(
        cfg, args.checkpoint, device=args.device, adapter=adapter,
        protocol=protocol, seed=args.seed, resize=args.resize,
        compare=not args.no_compare, show_progress=not args.no_progress)
    results = inferencer(args.inputs, batch_size=args.batch_size,
                         out_dir=args.out_dir, raw_format=args.raw_format,
                         extensions=args.extensions,
                         return_predictions=False)
    summary = results['summary']
    t = summary['time']
    line = (f'{summary["num_images"]} image(s) -> {args.out_dir} in '
            f'{t["total_s"]:.1f} s')
    if adapter is not None:
        line += (f'; {adapter["type"]} {protocol["type"]}: '
                 f'{summary["steps"]} steps, {t["adapt_s"]:.1f} s adapting '
                 f'({t["adapt_s_per_image"]:.2f} s per image)')
    if summary['skipped']:
        line += f'; skipped {summary["num_skipped"]} unreadable file(s)'
    print(line)
    return summary


if __name__ == '__main__':
    main()
