"""Benchmark 4: throughput at the reference configuration
(configs/s4t/nyud_taskonomy_r50.py: 4 tasks, 256x256, batch 2, 2 CPU
threads). The reference implementation's adaptation step took a median
2.21 s on such a machine; target: faster.

Reports the median adaptation step and images/s for
- paper protocol: reset, ``--paper-steps`` steps on one batch, then predict
  ``--eval-images`` images (adaptation amortised over them);
- episodic protocol: per batch reset, ``--episodic-steps`` steps, predict.

    python bench/bench_throughput.py [--repeats 7] [--eval-images 64]
"""
import time

import torch

from common import (build_model, med, median_time, parser, random_inputs,
                    sync)
from s4t_mm.registry import ADAPTERS

REFERENCE_STEP_S = 2.21


def main():
    p = parser(__doc__)
    p.add_argument('--paper-steps', type=int, default=40)
    p.add_argument('--episodic-steps', type=int, default=1)
    p.add_argument('--eval-images', type=int, default=64)
    p.add_argument('--channels-last', action='store_true')
    p.add_argument('--amp', choices=['none', 'bf16', 'fp16'], default='none')
    args = p.parse_args()
    model = build_model(args)
    inputs = random_inputs(args)
    adapter = ADAPTERS.build(dict(
        type='S4TAdapter', channels_last=args.channels_last,
        amp=None if args.amp == 'none' else args.amp)).bind(model)

    def step():
        adapter.adapt(inputs, steps=1)

    def predict():
        model.eval()
        with torch.no_grad():
            model._forward(inputs)

    step_t = median_time(step, args.repeats, args.device)
    predict_t = median_time(predict, args.repeats, args.device)
    reset_t = median_time(adapter.reset, args.repeats, args.device)
    s, pr, r = med(step_t), med(predict_t), med(reset_t)
    batches = args.eval_images / args.batch_size
    paper_time = r + args.paper_steps * s + batches * pr
    episodic_time = r + args.episodic_steps * s + pr

    sync(args.device)
    start = time.perf_counter()
    adapter.reset()
    adapter.adapt(inputs, steps=args.paper_steps)
    for _ in range(int(batches)):
        predict()
    sync(args.device)
    measured_paper = time.perf_counter() - start

    print(f'config {args.config}, batch {args.batch_size}x{args.size}^2, '
          f'{args.threads} threads, device {args.device}, '
          f'channels_last={args.channels_last}, amp={args.amp}')
    print(f'adaptation step: median {s:.3f} s ({", ".join(f"{t:.3f}" for t in step_t)})'
          f'; reference implementation 2.21 s -> ratio '
          f'{s / REFERENCE_STEP_S:.2f}')
    print(f'predict: median {pr:.3f} s per batch; reset {r * 1e3:.2f} ms')
    print(f'paper protocol ({args.paper_steps} steps on one batch, then '
          f'{args.eval_images} images): {args.eval_images / paper_time:.2f} '
          f'images/s from medians, {args.eval_images / measured_paper:.2f} '
          'images/s measured end to end')
    print(f'episodic protocol ({args.episodic_steps} step(s) per batch): '
          f'{args.batch_size / episodic_time:.2f} images/s')


if __name__ == '__main__':
    main()
