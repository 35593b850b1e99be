"""Exercise the CUDA and mixed-precision paths on a GPU machine: S4T
adaptation in fp32, bf16 and fp16 (loss scaling), bitwise reset on the GPU,
the non-finite guard undoing a NaN batch on the device, and a source
training step through mmengine's AmpOptimWrapper.

    python bench/check_cuda_paths.py
"""
import torch
from mmengine.config import Config
from mmengine.optim import AmpOptimWrapper

from common import ROOT
from s4t_mm.registry import ADAPTERS, MODELS
from s4t_mm.structures import MultiTaskDataSample
from s4t_mm.utils import register_all_modules


def batch(n=4, size=128, device='cuda'):
    inputs = [torch.randint(0, 256, (3, size, size), dtype=torch.uint8)
              for _ in range(n)]
    samples = []
    for i in range(n):
        s = MultiTaskDataSample(metainfo=dict(img_shape=(size, size),
                                              sample_idx=i))
        s.set_gt('semseg', torch.randint(0, 6, (1, size, size)))
        s.set_gt('depth', torch.rand(1, size, size) + 1)
        s.set_gt('normals', torch.nn.functional.normalize(
            torch.randn(3, size, size), dim=0))
        s.set_gt('edge', (torch.rand(1, size, size) > 0.9).float())
        samples.append(s)
    return dict(inputs=inputs, data_samples=samples)


def main():
    assert torch.cuda.is_available(), 'needs a GPU'
    register_all_modules()
    cfg = Config.fromfile(f'{ROOT}/configs/s4t/synthetic_r18_source.py')
    for amp in (None, 'bf16', 'fp16'):
        torch.manual_seed(0)
        model = MODELS.build(cfg.model).cuda()
        source = {k: v.clone() for k, v in model.state_dict().items()}
        adapter = ADAPTERS.build(dict(type='S4TAdapter', amp=amp,
                                      optimizer=dict(type='SGD', lr=1e-3)))
        adapter.bind(model)
        inputs = model.data_preprocessor(batch())['inputs']
        adapter.adapt(inputs, steps=5, seed=0)
        moved = any(not torch.equal(source[k], v)
                    for k, v in model.state_dict().items())
        adapter.reset()
        exact = all(torch.equal(source[k], v)
                    for k, v in model.state_dict().items())
        print(f'S4T adaptation amp={amp}: losses {adapter.last_losses}, '
              f'moved={moved}, reset bitwise={exact}, stats={adapter.stats}')
        assert moved and exact
    torch.manual_seed(0)
    model = MODELS.build(cfg.model).cuda()
    adapter = ADAPTERS.build(dict(type='S4TAdapter', optimizer=dict(
        type='SGD', lr=1e-3, momentum=0.9))).bind(model)
    inputs = model.data_preprocessor(batch())['inputs']
    adapter.adapt(inputs, steps=3, seed=0)
    good = {k: v.clone() for k, v in model.state_dict().items()}
    adapter.adapt(torch.full_like(inputs, float('nan')), steps=2, seed=1)
    kept = all(torch.equal(good[k], v) for k, v in model.state_dict().items())
    print(f'device guard: events {adapter.events}, last good state kept '
          f'bitwise={kept}, stats={adapter.stats}')
    assert kept and len(adapter.events) == 2 and adapter.stats['steps'] == 3
    model = MODELS.build(cfg.model).cuda()
    wrapper = AmpOptimWrapper(
        optimizer=torch.optim.Adam(model.parameters(), lr=1e-3),
        loss_scale='dynamic')
    model.train()
    losses = [model.train_step(batch(), wrapper)['loss'].item()
              for _ in range(20)]
    print(f'AmpOptimWrapper fp16 training: loss {losses[0]:.3f} -> '
          f'{losses[-1]:.3f}')
    assert losses[-1] < losses[0]


if __name__ == '__main__':
    main()
