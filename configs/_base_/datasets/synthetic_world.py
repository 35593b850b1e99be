# The embedded multi-task world: procedural rooms rendered in numpy, with a
# 'source' style to train on and target styles / corruptions to adapt to.
# Samples are rendered once into cache_dir and read back afterwards.
dataset_type = 'SyntheticWorldDataset'
img_size = 128
tasks = ['semseg', 'depth', 'normals', 'edge']
cache_dir = 'data/synthetic_world'

train_pipeline = [
    dict(type='MultiTaskRandomFlip', prob=0.5),
    dict(type='PackMultiTaskInputs'),
]
test_pipeline = [dict(type='PackMultiTaskInputs')]

# Samples come from the in-memory cache, so worker processes would only
# compete with the model for the CPU cores.
train_dataloader = dict(
    batch_size=8,
    num_workers=0,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        style='source',
        split='train',
        num_samples=2000,
        img_size=img_size,
        tasks=tasks,
        cache_dir=cache_dir,
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        style='source',
        split='val',
        num_samples=200,
        img_size=img_size,
        tasks=tasks,
        cache_dir=cache_dir,
        pipeline=test_pipeline))
test_dataloader = dict(
    batch_size=8,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        style='source',
        split='test',
        num_samples=200,
        img_size=img_size,
        tasks=tasks,
        cache_dir=cache_dir,
        pipeline=test_pipeline))
# Edges are scored by edge/l1 and by a tolerance ODS F-measure
# (edge/odsF_tol, 1-pixel tolerance); delta_m uses the F-measure, since a
# model lowers edge/l1 by predicting no edges at all.
val_evaluator = dict(type='MultiTaskMetric', edge_tolerance_f=True,
                     edge_tolerance_px=1)
test_evaluator = val_evaluator
