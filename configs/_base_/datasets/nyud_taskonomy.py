# NYUD-v2 -> Taskonomy (S4T's first pair): train on NYUD-v2, adapt to and
# evaluate on Taskonomy, semseg mapped to the 7 classes both share.
# Point the roots at your copies (see docs/experiments.md for the layouts).
_base_ = ['./taskonomy_256.py']
nyud_root = 'data/NYUDv2'
taskonomy_root = 'data/taskonomy'
tasks = ['depth', 'edge', 'normals', 'semseg']

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadMultiTaskAnnotations'),
    dict(type='MultiTaskRandomResize', scale=(576, 448),
         ratio_range=(1.0, 1.2), keep_ratio=True),
    dict(type='MultiTaskRandomCrop', crop_size=(448, 576)),
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
        type='NYUDMultiTaskDataset',
        data_root=nyud_root,
        split='train',
        tasks=tasks,
        label_map='nyud_taskonomy',
        pipeline=train_pipeline))
val_dataloader = dict(
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
test_dataloader = dict(
    batch_size=8,
    num_workers=4,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='TaskonomyDataset',
        data_root=taskonomy_root,
        buildings='splits/test_buildings.txt',
        tasks=tasks,
        label_map='nyud_taskonomy',
        # views in the reference's order (sorted file names), so the first
        # batch, on which the paper protocol adapts, is the reference's
        view_order='filename',
        # the reference's units for a Taskonomy target: depth as
        # log(1 + v) / log(2^16), edges as the blurred occlusion strength
        depth_units='log_normalised',
        edge_target='strength',
        pipeline={{_base_.taskonomy_test_pipeline}}))
# Source validation (NYUD-v2): per-image alignment, the default.
val_evaluator = dict(type='MultiTaskMetric', depth_align='scale_shift',
                     edge_align='scale_shift')
# Target (Taskonomy) scored as the reference scores it: one least-squares
# scale and shift per evaluation batch of 8 for depth and edges, edges on the
# raw output, mIoU over all shared classes (absent ones count 0).
test_evaluator = dict(
    type='MultiTaskMetric',
    depth_align='scale_shift',
    edge_align='scale_shift',
    alignment='per_batch',
    edge_pred='logit',
    absent_class_iou=0.0)
target_domains = [dict(name='taskonomy')]
