# PASCAL-Context -> Taskonomy: semseg (6 shared classes), normals and edges
# (no depth: PASCAL-Context has none).
_base_ = ['./taskonomy_256.py']
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
        # views in the reference's order (sorted file names), so the first
        # batch, on which the paper protocol adapts, is the reference's
        view_order='filename',
        # the reference's edge target for a Taskonomy target: the blurred
        # occlusion strength
        edge_target='strength',
        pipeline={{_base_.taskonomy_test_pipeline}}))
# Source validation (PASCAL-Context): per-image alignment, the default.
val_evaluator = dict(type='MultiTaskMetric', edge_align='scale_shift')
# Target (Taskonomy) scored as the reference scores it: one least-squares
# scale and shift per evaluation batch of 8 for edges, on the raw output;
# mIoU over all shared classes (absent ones count 0).
test_evaluator = dict(
    type='MultiTaskMetric',
    edge_align='scale_shift',
    alignment='per_batch',
    edge_pred='logit',
    absent_class_iou=0.0)
target_domains = [dict(name='taskonomy')]
