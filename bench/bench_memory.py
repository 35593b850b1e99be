"""Benchmark 3: peak resident memory of an S4T adaptation step versus a plain
training step (supervised loss of all heads, auxiliary and relation terms)
of the same model and batch, each in a fresh process. Target: <= 1.3x.

    python bench/bench_memory.py [--config CFG] [--batch-size 2] [--size 256]
"""
import json
import resource
import subprocess
import sys

import torch

from common import build_model, dummy_samples, parser, random_inputs


def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(args):
    model = build_model(args)
    inputs = random_inputs(args)
    before = peak_mb()
    if args.mode == 'adapt':
        from s4t_mm.registry import ADAPTERS
        adapter = ADAPTERS.build(dict(type='S4TAdapter')).bind(model)
        for _ in range(3):
            adapter.adapt(inputs, steps=1)
    else:
        from mmengine.optim import OptimWrapper
        samples = dummy_samples(model, args)
        wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=1e-5))
        model.train()
        for _ in range(3):
            losses = model.loss(inputs, samples)
            loss, _ = model.parse_losses(losses)
            wrapper.update_params(loss)
    print(json.dumps(dict(before=before, peak=peak_mb())))


def main():
    p = parser(__doc__)
    p.add_argument('--mode', choices=['adapt', 'train'])
    args = p.parse_args()
    if args.mode:
        return child(args)
    result = {}
    for mode in ('train', 'adapt'):
        out = subprocess.run(
            [sys.executable, __file__, '--mode', mode, '--config',
             args.config, '--batch-size', str(args.batch_size), '--size',
             str(args.size), '--threads', str(args.threads)],
            capture_output=True, text=True, check=True)
        result[mode] = json.loads(out.stdout.strip().splitlines()[-1])
    for mode, r in result.items():
        print(f'{mode:5s}: peak RSS {r["peak"]:.0f} MB (after model build '
              f'{r["before"]:.0f} MB)')
    ratio = result['adapt']['peak'] / result['train']['peak']
    print(f'ratio adapt / train peak RSS: {ratio:.3f} (target <= 1.3)')


if __name__ == '__main__':
    main()
