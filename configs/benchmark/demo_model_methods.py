# The benchmark's method table (synthetic_methods.py, rows from
# configs/_base_/tta/methods.py) on the demo's source model:
# configs/s4t/synthetic_r18_source.py, 400 iterations, trained into
# work_dirs/synthetic_r18_source/ unless a checkpoint is there (and
# calibrated at training for the safe policies), seed 0. The demo and the
# safe-adaptation tables inherit it and pick their methods.
_base_ = ['./synthetic_methods.py']
source_work_dir = 'work_dirs/synthetic_r18_source'
train_config = 'configs/s4t/synthetic_r18_source.py'
seeds = [0]
sync_methods = []
