"""Benchmark 1: one S4T adaptation step through s4t_mm's adapter versus a
bare PyTorch loop (forward, the same loss, backward, SGD step) over the same
module and batch, with the non-finite guard on (each step kept or undone on
the device, the flags read once per ``adapt`` call of ``--steps`` steps)
and off (what the guard itself costs). Target: ratio <= 1.05.

    python bench/bench_adaptation_step.py [--config CFG] [--batch-size 2]
        [--size 256] [--threads 2] [--repeats 7] [--steps 5]
        [--device cuda]
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
    p = parser(__doc__)
    p.add_argument('--steps', type=int, default=5,
                   help='steps per adapt call (per timing)')
    args = p.parse_args()
    model = build_model(args)
    inputs = random_inputs(args)
    guards = {'guard on': dict(), 'guard off': dict(guard_non_finite=False)}
    adapters = {name: ADAPTERS.build(dict(
        type='S4TAdapter', **cfg, optimizer=dict(
            type='SGD', lr=2e-5, weight_decay=1e-6))).bind(model)
        for name, cfg in guards.items()}
    params = [p for _, p in adapters['guard on'].adapted]
    bare_opt = torch.optim.SGD(params, lr=2e-5, weight_decay=1e-6)

    def bare():
        model.train()
        with torch.enable_grad():
            for _ in range(args.steps):
                bare_step(model, bare_opt, inputs)

    runs = {name: (lambda a=adapter: a.adapt(inputs, steps=args.steps))
            for name, adapter in adapters.items()}
    runs['bare loop'] = bare
    times = {name: [] for name in runs}
    for _ in range(args.repeats):  # interleave to share machine noise
        for name, fn in runs.items():
            times[name] += [t / args.steps for t in median_time(
                fn, 1, args.device, warmup=0 if times[name] else 2)]
    sync(args.device)
    print(f'config {args.config}, batch {args.batch_size}x{args.size}^2, '
          f'{args.threads} threads, device {args.device}, '
          f'{args.steps} steps per adapt call')
    for name, ts in times.items():
        print(f'{name + ":":20s} median {med(ts):.4f} s per step  '
              f'({", ".join(f"{t:.3f}" for t in ts)})')
    for name in adapters:
        print(f'ratio adapter ({name}) / bare: '
              f'{med(times[name]) / med(times["bare loop"]):.3f}  '
              '(target <= 1.05)')


if __name__ == '__main__':
    main()
