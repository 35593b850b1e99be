"""Benchmark 1: one S4T adaptation step through s4t_mm's adapter versus a
bare PyTorch loop (forward, the same loss, backward, SGD step) over the same
module and batch. Target: ratio <= 1.05.

    python bench/bench_adaptation_step.py [--config CFG] [--batch-size 2]
        [--size 256] [--threads 2] [--repeats 7]
"""
import torch

from common import (build_model, med, median_time, parser, random_inputs,
                    sync)
from s4t_mm.registry import ADAPTERS


def bare_step(model, optimizer, inputs, lam=0.01):
    feats = model.extract_feat(inputs)
    with torch.no_grad():
        main = model.head_outputs(feats)
    rel = model.relation_predictor.reconstruct(
        model.relation_predictor.compress(feats))
    size = inputs.shape[2:]
    loss = 0
    for task, head in model.heads.items():
        w = float(model.loss_combiner.weight(task))
        l1 = (head.resize(rel[task], size) -
              head.resize(main[task], size)).abs().mean(dim=(0, 2, 3)).sum()
        loss = loss + lam * w**2 * l1
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


def main():
    args = parser(__doc__).parse_args()
    model = build_model(args)
    inputs = random_inputs(args)
    adapter = ADAPTERS.build(dict(type='S4TAdapter', optimizer=dict(
        type='SGD', lr=2e-5, weight_decay=1e-6))).bind(model)
    params = [p for _, p in adapter.adapted]
    bare_opt = torch.optim.SGD(params, lr=2e-5, weight_decay=1e-6)

    def ours():
        adapter.adapt(inputs, steps=1)

    def bare():
        model.train()
        with torch.enable_grad():
            bare_step(model, bare_opt, inputs)

    ours_t, bare_t = [], []
    for _ in range(args.repeats):  # interleave to share machine noise
        ours_t += median_time(ours, 1, args.device, warmup=0 if ours_t
                              else 2)
        bare_t += median_time(bare, 1, args.device, warmup=0 if bare_t
                              else 2)
    sync(args.device)
    ratio = med(ours_t) / med(bare_t)
    print(f'config {args.config}, batch {args.batch_size}x{args.size}^2, '
          f'{args.threads} threads, device {args.device}')
    print(f'adapter step: median {med(ours_t):.4f} s  '
          f'({", ".join(f"{t:.3f}" for t in ours_t)})')
    print(f'bare loop:    median {med(bare_t):.4f} s  '
          f'({", ".join(f"{t:.3f}" for t in bare_t)})')
    print(f'ratio adapter / bare: {ratio:.3f}  (target <= 1.05)')


if __name__ == '__main__':
    main()
