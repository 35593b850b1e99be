"""Shared set-up of the benchmarks: a model from a config, a batch, timing."""
import argparse
import os.path as osp
import statistics
import time
from typing import Callable, List

import torch
from mmengine.config import Config

from s4t_mm.registry import MODELS
from s4t_mm.utils import register_all_modules

ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..'))
REFERENCE_CONFIG = osp.join(ROOT, 'configs/s4t/nyud_taskonomy_r50.py')


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument('--config', default=REFERENCE_CONFIG)
    p.add_argument('--batch-size', type=int, default=2)
    p.add_argument('--size', type=int, default=256)
    p.add_argument('--threads', type=int, default=2)
    p.add_argument('--repeats', type=int, default=7)
    p.add_argument('--device', default='cpu')
    return p


def build_model(args):
    register_all_modules()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    cfg = Config.fromfile(args.config)
    model = MODELS.build(cfg.model).to(args.device)
    return model


def random_inputs(args) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    return torch.randn(args.batch_size, 3, args.size, args.size,
                       generator=g).to(args.device)


def sync(device: str) -> None:
    if device.startswith('cuda'):
        torch.cuda.synchronize()


def median_time(fn: Callable[[], None], repeats: int, device: str,
                warmup: int = 2) -> List[float]:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        sync(device)
        start = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - start)
    return times


def med(times: List[float]) -> float:
    return statistics.median(times)
