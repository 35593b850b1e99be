"""Time the synthetic dataset's renderer (and optionally the corruptions and
the cached training split).

Runs on one core: the budget is 2,000 images of 128x128 with all five label
maps within a minute, i.e. about 30 ms per image. ``--cache-dir`` also times
what a training run does first with the embedded world's config
(configs/_base_/datasets/synthetic_world.py): reading its cached training
split back (the .npz the first run rendered), then its training pipeline
from memory, in samples per second.

    python bench/bench_synthetic_generation.py
    python bench/bench_synthetic_generation.py --num 200 --corruptions
    python bench/bench_synthetic_generation.py --cache-dir data/synthetic_world
"""
import os

# one core: pin the thread pools before numpy and OpenCV start them
for _var in ('OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS'):
    os.environ[_var] = '1'

import argparse  # noqa: E402
import os.path as osp  # noqa: E402
import time  # noqa: E402

import cv2  # noqa: E402

from s4t_mm.datasets.synthetic import STYLES  # noqa: E402
from s4t_mm.datasets.synthetic_world_dataset import render_sample  # noqa

cv2.setNumThreads(1)

ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..'))


def bench_rendering(num, size, styles):
    for style in styles:
        start = time.perf_counter()
        for i in range(num):
            render_sample(style, 'train', i, seed=0, img_size=size)
        seconds = time.perf_counter() - start
        print(f'{style:13s} {num} images at {size}x{size}: {seconds:6.1f} s '
              f'({num / seconds:6.1f} images/s, '
              f'{1e3 * seconds / num:5.1f} ms/image)')


def bench_corruptions(num, size, severity):
    from s4t_mm.datasets.transforms.corruption import (CORRUPTIONS,
                                                       ImageCorruption)
    images = [
        render_sample('source', 'test', i, img_size=size)['img']
        for i in range(num)
    ]
    for name in CORRUPTIONS:
        transform = ImageCorruption(name, severity)
        # the first call pays one-off costs (numba compiles glass_blur)
        start = time.perf_counter()
        transform(dict(img=images[0], sample_idx=0))
        first = time.perf_counter() - start
        start = time.perf_counter()
        for i, img in enumerate(images):
            transform(dict(img=img, sample_idx=i))
        per_image = (time.perf_counter() - start) / num
        print(f'{name:18s} severity {severity}: {1e3 * per_image:7.1f} '
              f'ms/image (first call {1e3 * first:7.1f} ms)')


def bench_cache(cache_dir, num):
    """Seconds to read the cached training split of the embedded world's
    config, and samples/s of its training pipeline on ``num`` samples."""
    from mmengine.config import Config

    from s4t_mm.registry import DATASETS
    from s4t_mm.utils import register_all_modules
    register_all_modules()
    cfg = Config.fromfile(
        osp.join(ROOT, 'configs', '_base_', 'datasets', 'synthetic_world.py'))
    dataset = DATASETS.build(
        dict(cfg.train_dataloader.dataset, cache_dir=cache_dir,
             lazy_init=True))
    if not osp.isfile(dataset.cache_path):
        raise FileNotFoundError(
            f'no cached split {dataset.cache_path}; the first training or '
            f'tools/demo.sh renders it')
    start = time.perf_counter()
    dataset.full_init()
    load = time.perf_counter() - start
    print(f'cached train split, {len(dataset)} samples '
          f'({osp.getsize(dataset.cache_path) / 2**20:.0f} MiB): read in '
          f'{load:.2f} s')
    num = min(num, len(dataset))
    start = time.perf_counter()
    for i in range(num):
        dataset[i]
    seconds = time.perf_counter() - start
    print(f'train pipeline from the cache: {num / seconds:.0f} samples/s '
          f'({1e3 * seconds / num:.2f} ms/sample)')


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--num', type=int, default=2000)
    parser.add_argument('--size', type=int, default=128)
    parser.add_argument(
        '--styles', nargs='+', default=['source'], choices=list(STYLES))
    parser.add_argument(
        '--corruptions',
        action='store_true',
        help='also time the 15 corruptions on --num / 10 images')
    parser.add_argument('--severity', type=int, default=3)
    parser.add_argument(
        '--cache-dir',
        help='also time reading the cached training split of '
        'configs/_base_/datasets/synthetic_world.py from this folder and its '
        'training pipeline on --num samples')
    args = parser.parse_args()
    bench_rendering(args.num, args.size, args.styles)
    if args.corruptions:
        bench_corruptions(max(args.num // 10, 1), args.size, args.severity)
    if args.cache_dir:
        bench_cache(args.cache_dir, args.num)


if __name__ == '__main__':
    main()
