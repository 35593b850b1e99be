"""A tiny runnable test-time adaptation setup: the tiny model on 32x32
samples of the embedded world, two target styles."""
import itertools

import torch
from mmengine.config import Config

from ..test_models.utils import tiny_heads, tiny_model_cfg

# unique experiment names: runners built within one second would share one
_RUN_IDS = itertools.count()
TASKS = ['semseg', 'depth', 'normals', 'edge']
TARGETS = [
    dict(name='warm', dataset=dict(style='target_warm')),
    dict(name='cool', dataset=dict(style='target_cool')),
]


def tiny_tta_cfg(work_dir, cache_dir, adapter=None, steps=4, tasks=TASKS,
                 extra_hooks=(), num_samples=8):
    adapter = adapter or dict(type='S4TAdapter',
                              optimizer=dict(type='SGD', lr=0.05))
    dataset = dict(type='SyntheticWorldDataset', style='target_warm',
                   split='test', num_samples=num_samples, img_size=32,
                   tasks=list(tasks), cache_dir=str(cache_dir),
                   pipeline=[dict(type='PackMultiTaskInputs')])
    return Config(dict(
        default_scope='s4t_mm',
        work_dir=str(work_dir),
        experiment_name=f'tiny_tta_{next(_RUN_IDS)}',
        model=tiny_model_cfg(relation=True, heads=tiny_heads(6)),
        test_dataloader=dict(batch_size=4, num_workers=0,
                             sampler=dict(type='DefaultSampler',
                                          shuffle=False),
                             dataset=dataset),
        test_evaluator=dict(type='MultiTaskMetric'),
        test_cfg=dict(type='TestLoop'),
        custom_hooks=[dict(type='TestTimeAdaptHook', adapter=adapter,
                           protocol=dict(type='paper', steps=steps,
                                         num_batches=1, seed=0))] +
        list(extra_hooks),
        target_domains=TARGETS,
        env_cfg=dict(cudnn_benchmark=False, dist_cfg=dict(backend='gloo')),
        randomness=dict(seed=0),
        log_level='WARNING'))


def save_tiny_checkpoint(path, seed=42):
    """A checkpoint of the tiny model in mmengine's format."""
    from s4t_mm.registry import MODELS
    torch.manual_seed(seed)
    model = MODELS.build(tiny_model_cfg(relation=True, heads=tiny_heads(6)))
    torch.save(dict(state_dict=model.state_dict(), meta={}), str(path))
    return str(path)
