# Taskonomy -> NYUD-v2: train on Taskonomy at 256x256, adapt to and evaluate
# on NYUD-v2, semseg mapped to the 7 shared classes.
nyud_root = 'data/NYUDv2'
taskonomy_root = 'data/taskonomy'
tasks = ['depth', 'edge', 'normals', 'semseg']

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadMultiTaskAnnotations'),
    dict(type='MultiTaskRandomFlip', prob=0.5),
    dict(type='mmseg.PhotoMetricDistortion'),
    dict(type='PackMultiTaskInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadMultiTaskAnnotations'),
    dict(type='PackMultiTaskInputs'),
]
train_dataloader = dict(
    batch_size=8,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type='TaskonomyDataset',
        data_root=taskonomy_root,
        buildings='splits/train_buildings.txt',
        tasks=tasks,
        label_map='nyud_taskonomy',
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8,
    num_workers=4,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='TaskonomyDataset',
        data_root=taskonomy_root,
        buildings='splits/val_buildings.txt',
        tasks=tasks,
        label_map='nyud_taskonomy',
        pipeline=test_pipeline))
test_dataloader = dict(
    batch_size=8,
    num_workers=4,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='NYUDMultiTaskDataset',
        data_root=nyud_root,
        split='val',
        tasks=tasks,
        label_map='nyud_taskonomy',
        pipeline=test_pipeline))
val_evaluator = dict(type='MultiTaskMetric', depth_align='scale_shift',
                     edge_align='scale_shift')
test_evaluator = val_evaluator
target_domains = [dict(name='nyud')]
