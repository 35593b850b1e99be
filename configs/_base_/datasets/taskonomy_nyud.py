# Taskonomy -> NYUD-v2: train on Taskonomy at 256x256, adapt to and evaluate
# on NYUD-v2, semseg mapped to the 7 shared classes. Taskonomy targets are
# the reference's: depth as log(1 + v) / log(2^16), edges as the blurred
# occlusion strength (regressed with L1: configs/s4t/taskonomy_nyud_r50.py).
_base_ = ['./taskonomy_256.py']
nyud_root = 'data/NYUDv2'
taskonomy_root = 'data/taskonomy'
tasks = ['depth', 'edge', 'normals', 'semseg']

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadMultiTaskAnnotations'),
    dict(type='MultiTaskResize', scale=(256, 256), keep_ratio=False),
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
        depth_units='log_normalised',
        edge_target='strength',
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
        depth_units='log_normalised',
        edge_target='strength',
        pipeline={{_base_.taskonomy_test_pipeline}}))
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
# Source validation (Taskonomy): per-image alignment, the default.
val_evaluator = dict(type='MultiTaskMetric', depth_align='scale_shift',
                     edge_align='scale_shift')
# Target (NYUD-v2) scored as the reference scores it: one least-squares
# scale and shift per evaluation batch of 8 for depth and edges, edges on the
# sigmoid output (the reference's 255 * sigmoid; the fit absorbs the 255),
# mIoU over all shared classes (absent ones count 0).
test_evaluator = dict(
    type='MultiTaskMetric',
    depth_align='scale_shift',
    edge_align='scale_shift',
    alignment='per_batch',
    edge_pred='probability',
    absent_class_iou=0.0)
target_domains = [dict(name='nyud')]
