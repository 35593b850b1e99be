default_scope = 's4t_mm'
env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='gloo'),
)
# The runner's visualizer draws the multi-task predictions
# (MultiTaskVisualizationHook), the synchronisation plots (TaskSyncHook) and
# the relation heat maps (TaskRelationHook) into every backend here; add
# dict(type='TensorboardVisBackend') or dict(type='WandbVisBackend') to
# see them there. No fixed name: each runner gets its own visualizer
# (named after its experiment), saving into its own log dir.
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='MultiTaskVisualizer', vis_backends=vis_backends)
log_processor = dict(by_epoch=False)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0, deterministic=False)
