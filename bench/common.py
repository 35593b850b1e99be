"""Shared set-up of the benchmarks: a model from a config, a batch, timing."""
import argparse
import os.path as osp
import statistics
import time
from typing import Callable, List

import torch
from mmengine.config import Config

from s4t_mm.registry import MODELS
from s4t_mm.structures import MultiTaskDataSample
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


def dummy_samples(model, args) -> List[MultiTaskDataSample]:
    """All-zero ground truth of every task of ``model``, for a training
    step of ``args.batch_size`` images of ``args.size`` squared."""
    samples = []
    for _ in range(args.batch_size):
        s = MultiTaskDataSample(metainfo=dict(
            img_shape=(args.size, args.size)))
        for task, head in model.heads.items():
            shape = (1 if task != 'normals' else 3, args.size, args.size)
            gt = torch.zeros(shape) if task != 'semseg' else \
                torch.zeros(shape, dtype=torch.long)
            s.set_gt(task, gt)
        samples.append(s)
    return samples


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
