"""TaskRelationHook inside a real (tiny) mmengine Runner."""
import json
import os
import os.path as osp
from types import SimpleNamespace

import numpy as np
import pytest
from mmengine.runner import Runner

from s4t_mm.datasets.transforms.corruption import ImageCorruption
from s4t_mm.engine.hooks.task_relation_hook import domain_name
from s4t_mm.registry import HOOKS
from ..test_models.utils import tiny_heads, tiny_model_cfg

TASKS = ['semseg', 'depth', 'normals', 'edge']


def _loader(split, sampler):
    return dict(
        batch_size=4, num_workers=0, sampler=dict(type=sampler),
        dataset=dict(type='SyntheticWorldDataset', split=split, img_size=32,
                     num_samples=4, tasks=TASKS,
                     pipeline=[dict(type='PackMultiTaskInputs')]))


def test_hook_logs_and_saves_relations_at_validation_and_test(tmp_path):
    runner = Runner(
        model=tiny_model_cfg(relation=True, heads=tiny_heads(num_classes=6)),
        work_dir=str(tmp_path),
        train_dataloader=_loader('train', 'InfiniteSampler'),
        val_dataloader=_loader('val', 'DefaultSampler'),
        test_dataloader=_loader('test', 'DefaultSampler'),
        train_cfg=dict(type='IterBasedTrainLoop', max_iters=2,
                       val_interval=2),
        val_cfg=dict(), test_cfg=dict(),
        val_evaluator=dict(type='MultiTaskMetric'),
        test_evaluator=dict(type='MultiTaskMetric'),
        optim_wrapper=dict(optimizer=dict(type='Adam', lr=1e-3)),
        default_hooks=dict(checkpoint=None),
        custom_hooks=[dict(type='TaskRelationHook', num_batches=1)],
        log_processor=dict(by_epoch=False),
        default_scope='s4t_mm',
        log_level='WARNING',
        experiment_name='relations_test')
    runner.train()

    stem = osp.join(str(tmp_path), 'relations', 'iter_2')
    with open(stem + '.json') as f:
        record = json.load(f)
    assert record['tasks'] == TASKS and record['num_images'] == 4
    matrix = np.array(record['matrix'])
    assert matrix.shape == (4, 4) and np.isfinite(matrix).all()
    assert osp.getsize(stem + '.png') > 0
    hub = runner.message_hub
    assert hub.get_scalar('val/relation/semseg->depth').current() == \
        matrix[0, 1]
    with open(osp.join(runner.log_dir, 'vis_data', 'scalars.json')) as f:
        logged = [json.loads(line) for line in f]
    assert any(line.get('relation/normals->edge') == matrix[2, 3]
               for line in logged)

    runner.test()
    stem = osp.join(str(tmp_path), 'relations', runner.experiment_name,
                    'source')
    with open(stem + '.json') as f:
        record = json.load(f)
    assert record['mode'] == 'test' and osp.isfile(stem + '.png')
    assert hub.get_scalar('test/relation/edge->edge').current() == \
        record['matrix'][3][3]
    # the heat maps also went through the runner's visualizer
    drawn = osp.join(runner.log_dir, 'vis_data', 'vis_image')
    assert sorted(os.listdir(drawn)) == ['relations_2.png',
                                         'relations_source_2.png']


def test_domain_name_adds_the_corruption():
    sample = SimpleNamespace(metainfo=dict(domain='source'))
    dataset = SimpleNamespace(pipeline=SimpleNamespace(
        transforms=[ImageCorruption('fog', 3)]))
    loader = SimpleNamespace(dataset=dataset)
    assert domain_name(loader, [dict(data_samples=[sample])]) == \
        'source-fog-3'
    assert domain_name(SimpleNamespace(dataset=None), []) == 'test'


def test_hook_checks_its_arguments():
    with pytest.raises(ValueError, match='num_batches must be >= 1'):
        HOOKS.build(dict(type='TaskRelationHook', num_batches=0))
