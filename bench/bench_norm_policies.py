"""Benchmark: what the shift-response calibration and policy cost.

1. Calibration, on the embedded model: ``calibrate_model`` with the
   shift-response rule against the spread alone (what the training's
   NormCalibrationHook adds at its last checkpoint; target: at most one
   minute on 2 cores).
2. Adaptation, one ``adapt`` call of the paper protocol on a batch
   (BN-adapt's statistics only, and S4T's 40 steps) under the gated policy
   and under the shift-response policy (its extra pass with the source
   statistics; target: at most 5 % over the policy's cost), beside plain
   batch statistics, interleaved repeat by repeat.

    python bench/bench_norm_policies.py [--config CFG] [--checkpoint CKPT]
        [--threads 2] [--repeats 5] [--steps 40]

CKPT must hold the calibration of both policies
(tools/analysis_tools/calibrate_norm_stats.py).
"""
import time

import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from common import ROOT, med, median_time, parser
from s4t_mm.fileio import load_model_checkpoint
from s4t_mm.engine.hooks.norm_calibration_hook import calibrate_model
from s4t_mm.registry import ADAPTERS, MODELS
from s4t_mm.utils import register_all_modules

CONFIG = f'{ROOT}/configs/s4t/synthetic_r18_source.py'
CHECKPOINT = f'{ROOT}/work_dirs/synthetic_r18_source_calibrated/iter_400.pth'
POLICIES = dict(batch_stats=dict(type='batch_stats'),
                gated=dict(type='gated', threshold=6.0),
                shift_response=dict(type='shift_response', hard=True))


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main():
    p = parser(__doc__)
    p.set_defaults(config=CONFIG, repeats=5)
    p.add_argument('--checkpoint', default=CHECKPOINT)
    p.add_argument('--steps', type=int, default=40)
    args = p.parse_args()
    register_all_modules()
    torch.set_num_threads(args.threads)
    cfg = Config.fromfile(args.config)
    init_default_scope('s4t_mm')
    model = MODELS.build(cfg.model)
    checkpoint = load_model_checkpoint(model, args.checkpoint)

    spread = timed(lambda: calibrate_model(model, cfg, shift_response=False))
    both = timed(lambda: calibrate_model(model, cfg))
    print(f'calibration: spread {spread:.1f} s, spread + shift response '
          f'{both:.1f} s (the rule adds {both - spread:.1f} s)')

    g = torch.Generator().manual_seed(0)
    inputs = torch.randn(cfg.test_dataloader.batch_size, 3, 128, 128,
                         generator=g) * 1.5 + 0.5
    for method in ('NormStatsAdapter', 'S4TAdapter'):
        adapters = {}
        for name, policy in POLICIES.items():
            extra = dict(
                weighting='squared_task_weights', loss_weight=0.01,
                optimizer=dict(type='SGD', lr=1e-5, weight_decay=1e-6),
                norm_policy=live(policy)) \
                if method == 'S4TAdapter' else dict(norm_policy=policy)
            adapter = ADAPTERS.build(dict(type=method, **extra))
            adapter.norm_policy.after_load_checkpoint(checkpoint)
            adapter.bind(model)
            adapters[name] = adapter
        # interleaved, so that the machine's drift falls on every policy
        times = {name: [] for name in adapters}
        for _ in range(args.repeats):
            for name, adapter in adapters.items():
                adapter.reset()
                times[name] += median_time(
                    lambda: adapter.adapt(inputs, args.steps, seed=0), 1,
                    'cpu', warmup=0)
        for name, adapter in adapters.items():
            weights = adapter.norm_policy.report().weights
            adapter.reset()
            weight = (f', mean target weight '
                      f'{sum(weights.values()) / len(weights):.2f}'
                      if weights else '')
            print(f'{method} under {name}: {med(times[name]) * 1e3:.0f} ms '
                  f'per adapt call ({args.steps} steps{weight})')
        for name in ('gated', 'shift_response'):
            print(f'{method}: {name} / batch_stats = '
                  f'{med(times[name]) / med(times["batch_stats"]):.3f}')


def live(policy: dict) -> dict:
    """The policy as a gradient method runs it (batch statistics in the
    steps: ``live_steps`` for the blending policies)."""
    return policy if policy['type'] == 'batch_stats' else dict(
        policy, live_steps=True)


if __name__ == '__main__':
    main()
