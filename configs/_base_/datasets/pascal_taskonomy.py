# PASCAL-Context -> Taskonomy: semseg (6 shared classes), normals and edges
# (no depth: PASCAL-Context has none).
pascal_root = 'data/PASCAL_MT'
taskonomy_root = 'data/taskonomy'
tasks = ['edge', 'normals', 'semseg']

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadMultiTaskAnnotations'),
    dict(type='MultiTaskResize', scale=(512, 512), keep_ratio=True),
    dict(type='MultiTaskPad', size=(512, 512)),
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
        type='PascalContextMultiTaskDataset',
        data_root=pascal_root,
        split='train',
        tasks=tasks,
        label_map='pascal_taskonomy',
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8,
    num_workers=4,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='PascalContextMultiTaskDataset',
        data_root=pascal_root,
        split='val',
        tasks=tasks,
        label_map='pascal_taskonomy',
        pipeline=test_pipeline))
test_dataloader = dict(
    batch_size=8,
    num_workers=4,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='TaskonomyDataset',
        data_root=taskonomy_root,
        buildings='splits/test_buildings.txt',
        tasks=tasks,
        label_map='pascal_taskonomy',
        pipeline=test_pipeline))
val_evaluator = dict(type='MultiTaskMetric', edge_align='scale_shift')
test_evaluator = val_evaluator
target_domains = [dict(name='taskonomy')]
