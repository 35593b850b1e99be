"""Benchmark 6: per-level fusion versus concatenation at the reference
configuration (configs/s4t/nyud_taskonomy_r50.py, batch 2, 256x256, 2 CPU
threads), each also in the channels-last layout, and a plain training step
(forward, backward, SGD) of the backbone alone.

Variants (same weights):
- ``concat``: ``fusion='concat'``, the resize to the autoencoder's input
  and the patch embedding unfolded: the path before per-level fusion;
- ``fused``: ``fusion='per_level'`` and the resize folded into the patch
  embedding (``fold_resize=True``);
- ``*_cl``: the same with ``memory_format='channels_last'``; the others use
  ``memory_format='contiguous'``.

Reports the largest relative difference of every output (main heads,
auxiliary heads, relation predictor under the same mask) between ``fused``
and ``concat``, the median S4T adaptation step and training step of each
variant (steps of all variants alternate, so ratios share the machine's
noise), and the peak RSS of 3 steps of each in a fresh process.
Targets: fused / concat S4T step <= 0.5, training step faster, peak RSS
<= 0.7; S4T step <= 2x the backbone's training step.

    python bench/bench_fusion.py [--config CFG] [--batch-size 2]
        [--size 256] [--threads 2] [--repeats 7] [--skip-memory]
"""
import copy
import json
import resource
import subprocess
import sys

import torch
from mmengine.config import Config
from mmengine.optim import OptimWrapper

from common import (build_model, dummy_samples, med, median_time, parser,
                    random_inputs)
from s4t_mm.registry import ADAPTERS, MODELS

VARIANTS = dict(
    concat=dict(fusion='concat', fold_resize=False,
                memory_format='contiguous'),
    fused=dict(fusion='per_level', fold_resize=True,
               memory_format='contiguous'),
    concat_cl=dict(fusion='concat', fold_resize=False,
                   memory_format='channels_last'),
    fused_cl=dict(fusion='per_level', fold_resize=True,
                  memory_format='channels_last'),
)
BACKBONE_VARIANTS = dict(backbone='contiguous', backbone_cl='channels_last')


def build_variant(args, name, state_dict=None):
    """The model of ``args.config`` with ``VARIANTS[name]``, holding
    ``state_dict`` when given."""
    options = dict(VARIANTS[name])
    cfg = Config.fromfile(args.config).model
    cfg.relation_predictor.fold_resize = options.pop('fold_resize')
    cfg.update(options)
    model = MODELS.build(cfg)
    if state_dict is not None:
        model.load_state_dict(state_dict)
    return model


def s4t_step_fn(model, inputs):
    adapter = ADAPTERS.build(dict(type='S4TAdapter')).bind(model)
    return lambda: adapter.adapt(inputs, steps=1)


def train_step_fn(model, inputs, args):
    samples = dummy_samples(model, args)
    wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=1e-5))

    def step():
        model.train()
        losses = model.loss(inputs, samples)
        wrapper.update_params(model.parse_losses(losses)[0])
    return step


def backbone_step_fn(model, inputs, memory_format):
    """Forward, backward and SGD of the backbone alone, on the mean of its
    outputs."""
    backbone = model.backbone
    optimizer = torch.optim.SGD(backbone.parameters(), lr=1e-5)
    if memory_format == 'channels_last':
        inputs = inputs.contiguous(memory_format=torch.channels_last)

    def step():
        backbone.train()
        loss = sum(x.mean() for x in backbone(inputs))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return step


def max_relative_differences(a, b, inputs):
    """Largest |a - b| / max |b| over each output kind."""
    out = {}
    for model in (a, b):
        model.train()
    with torch.no_grad():
        for kind in ('main', 'aux', 'rel'):
            diffs = []
            for m in (a, b):
                feats = m.extract_feat(inputs)
                if kind == 'main':
                    outputs = m.head_outputs(feats)
                else:
                    outputs = m.relation_outputs(
                        feats,
                        generator=torch.Generator().manual_seed(0))[kind]
                diffs.append(outputs)
            out[kind] = max(
                float((diffs[0][t] - diffs[1][t]).abs().max() /
                      diffs[1][t].abs().max()) for t in diffs[1])
    return out


def peak_mb():
    """This process's peak resident memory. ``VmHWM`` belongs to the
    process's own address space; ``ru_maxrss`` would carry over the peak of
    the (large) parent that started it."""
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith('VmHWM:'):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(args):
    """Peak RSS of 3 steps of one variant, in this fresh process."""
    model = build_model(args)
    inputs = random_inputs(args)
    if args.child in BACKBONE_VARIANTS:
        step = backbone_step_fn(model, inputs, BACKBONE_VARIANTS[args.child])
    else:
        del model
        model = build_variant(args, args.child)
        step = s4t_step_fn(model, inputs) if args.kind == 's4t' else \
            train_step_fn(model, inputs, args)
    before = peak_mb()
    for _ in range(3):
        step()
    print(json.dumps(dict(before=before, peak=peak_mb())))


def measure_memory(args):
    runs = [(v, k) for k in ('s4t', 'train') for v in VARIANTS] + [
        (v, 'train') for v in BACKBONE_VARIANTS]
    peaks = {}
    for variant, kind in runs:
        out = subprocess.run(
            [sys.executable, __file__, '--child', variant, '--kind', kind,
             '--config', args.config, '--batch-size', str(args.batch_size),
             '--size', str(args.size), '--threads', str(args.threads)],
            capture_output=True, text=True, check=True)
        peaks[variant, kind] = json.loads(
            out.stdout.strip().splitlines()[-1])
    return peaks


def main():
    p = parser(__doc__)
    p.add_argument('--skip-memory', action='store_true')
    p.add_argument('--child', choices=list(VARIANTS) +
                   list(BACKBONE_VARIANTS))
    p.add_argument('--kind', choices=['s4t', 'train'], default='s4t')
    args = p.parse_args()
    if args.child:
        return child(args)
    state = build_model(args).state_dict()
    inputs = random_inputs(args)
    models = {name: build_variant(args, name, state) for name in VARIANTS}
    print(f'config {args.config}, batch {args.batch_size}x{args.size}^2, '
          f'{args.threads} threads, {args.repeats} repeats')
    diffs = max_relative_differences(models['fused'], models['concat'],
                                     inputs)
    print('fused vs concat, max relative difference: ' + ', '.join(
        f'{k} {v:.2e}' for k, v in diffs.items()) + ' (target <= 1e-4)')

    steps = {}
    for name, model in models.items():
        steps[name, 's4t'] = s4t_step_fn(model, inputs)
        steps[name, 'train'] = train_step_fn(model, inputs, args)
    for name, memory_format in BACKBONE_VARIANTS.items():
        steps[name, 'train'] = backbone_step_fn(models['concat'], inputs,
                                                memory_format)
    times = {key: [] for key in steps}
    for i in range(args.repeats):  # alternate to share the machine's noise
        for key, fn in steps.items():
            times[key] += median_time(fn, 1, args.device,
                                      warmup=0 if times[key] else 2)
        print(f'repeat {i + 1}/{args.repeats} done', flush=True)
    peaks = {} if args.skip_memory else measure_memory(args)

    print(f'{"variant":12s} {"step":6s} {"median s":>9s} {"peak MB":>8s} '
          f'{"built MB":>8s}  all times')
    for (name, kind), ts in times.items():
        rss = peaks.get((name, kind), dict(peak='-', before='-'))
        print(f'{name:12s} {kind:6s} {med(ts):9.3f} '
              + ' '.join(f'{v if v == "-" else round(v):>8}'
                         for v in (rss['peak'], rss['before']))
              + '  ' + ' '.join(f'{t:.2f}' for t in ts))
    peaks = {key: rss['peak'] for key, rss in peaks.items()}
    t = {key: med(ts) for key, ts in times.items()}
    print('ratios (same run):')
    for layout in ('', '_cl'):
        fused, concat = f'fused{layout}', f'concat{layout}'
        print(f'  {fused} / {concat}: S4T step '
              f'{t[fused, "s4t"] / t[concat, "s4t"]:.3f} (target <= 0.5), '
              f'training step '
              f'{t[fused, "train"] / t[concat, "train"]:.3f} (target < 1)')
        if peaks:
            print(f'  {fused} / {concat} peak RSS: S4T '
                  f'{peaks[fused, "s4t"] / peaks[concat, "s4t"]:.3f}, '
                  f'training '
                  f'{peaks[fused, "train"] / peaks[concat, "train"]:.3f} '
                  '(target <= 0.7)')
        backbone = t[f'backbone{layout}', 'train']
        for name in (fused, concat):
            print(f'  {name} S4T step / backbone{layout} training step: '
                  f'{t[name, "s4t"] / backbone:.2f} (target <= 2)')
    print(f'  fused_cl / fused S4T step: '
          f'{t["fused_cl", "s4t"] / t["fused", "s4t"]:.3f}, training '
          f'{t["fused_cl", "train"] / t["fused", "train"]:.3f}')


if __name__ == '__main__':
    main()
