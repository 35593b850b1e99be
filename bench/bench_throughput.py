"""Benchmark 4: throughput at the reference configuration
(configs/s4t/nyud_taskonomy_r50.py: 4 tasks, 256x256, batch 2, 2 CPU
threads); target: an adaptation step faster than the reference
implementation's.

Reports the median adaptation step and images/s for
- paper protocol: reset, ``--paper-steps`` steps on one batch, then predict
  ``--eval-images`` images (adaptation amortised over them);
- episodic protocol: per batch reset, ``--episodic-steps`` steps, predict;
- with ``--reference PATH`` (a checkout of github wooseong97/S4T-mtl), the
  reference's own adaptation step (its NYUD-v2 -> Taskonomy test-time
  model, objective and SGD step) timed in this process on the same inputs
  and threads, and the ratio. Its code is imported from PATH by
  ``check_reference_equivalence.py``'s loader, never copied here; it needs
  timm, einops and easydict (see that script). Without it no comparison is
  made: a time measured on another machine is not comparable.

    python bench/bench_throughput.py [--repeats 7] [--eval-images 64]
        [--reference PATH]
"""
import time

import torch

from common import (build_model, med, median_time, parser, random_inputs,
                    sync)
from s4t_mm.registry import ADAPTERS

#: the pair whose test-time model matches configs/s4t/nyud_taskonomy_r50.py
REFERENCE_PAIR = 'nyud_taskonomy'


def reference_step(path: str, model, inputs: torch.Tensor):
    """One adaptation step of the reference implementation on ``inputs``:
    its test-time model and objective for :data:`REFERENCE_PAIR` (built
    from its configs at the inputs' size, float32, its random
    initialisation), SGD with its optimizer settings. ``model`` (ours, the
    same tasks) gives the number of classes of the labels its criterion
    reads besides the objective."""
    from check_reference_equivalence import (DATASETS, check_reference,
                                             fake_labels, import_reference,
                                             reference_cfg)
    path = check_reference(path, REFERENCE_PAIR)
    ref = import_reference(path)
    size = inputs.shape[-1]
    p_ttt = reference_cfg(ref, path, 'ttt', REFERENCE_PAIR, size)
    ref['common'].dataset_config_TTT(p_ttt)
    torch.manual_seed(0)
    ref_model = ref['common'].get_model(p_ttt).to(inputs.device).train()
    criterion = ref['common'].get_criterion(p_ttt)
    params = [{'params': ref_model.parameters()}]
    if hasattr(criterion, 'AWL'):
        params.append({'params': criterion.AWL.parameters()})
    optimizer = torch.optim.SGD(params, **p_ttt.optimizer_kwargs)
    with torch.no_grad():
        channels = {t: x.shape[1] for t, x in model.eval()._forward(
            inputs[:1]).items()}
    labels = {k: v.to(inputs.device) for k, v in fake_labels(
        list(channels), DATASETS[REFERENCE_PAIR][1], inputs.shape[0], size,
        channels).items()}

    def step():
        main, rel, aux = ref_model(inputs)
        loss = criterion(main, rel, aux, labels,
                         tasks=p_ttt.TASKS.NAMES)['total']
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    return step


def main():
    p = parser(__doc__)
    p.add_argument('--paper-steps', type=int, default=40)
    p.add_argument('--episodic-steps', type=int, default=1)
    p.add_argument('--eval-images', type=int, default=64)
    p.add_argument('--channels-last', action='store_true')
    p.add_argument('--amp', choices=['none', 'bf16', 'fp16'], default='none')
    p.add_argument('--reference',
                   help='a checkout of the reference (wooseong97/S4T-mtl) '
                   'to time its adaptation step here')
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

    if args.reference:
        # built first: our model's forward in the helper must not follow
        # our timed steps (it would leave the model in evaluation mode)
        theirs = reference_step(args.reference, model, inputs)
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
    print(f'adaptation step: median {s:.3f} s '
          f'({", ".join(f"{t:.3f}" for t in step_t)})')
    if args.reference:
        ref_t = median_time(theirs, args.repeats, args.device)
        print(f'reference implementation ({args.reference}), this process: '
              f'median {med(ref_t):.3f} s '
              f'({", ".join(f"{t:.3f}" for t in ref_t)}) -> ours / theirs '
              f'{s / med(ref_t):.2f}')
    else:
        print('reference implementation: not timed (give --reference PATH '
              'to time it here)')
    print(f'predict: median {pr:.3f} s per batch; reset {r * 1e3:.2f} ms')
    print(f'paper protocol ({args.paper_steps} steps on one batch, then '
          f'{args.eval_images} images): {args.eval_images / paper_time:.2f} '
          f'images/s from medians, {args.eval_images / measured_paper:.2f} '
          'images/s measured end to end')
    print(f'episodic protocol ({args.episodic_steps} step(s) per batch): '
          f'{args.batch_size / episodic_time:.2f} images/s')


if __name__ == '__main__':
    main()
