# safe_policies.py on the demo's source model (400 iterations), its
# checkpoint calibrated for every normalisation policy (written on first
# use by tools/analysis_tools/calibrate_norm_stats.py's function):
#
#   python tools/benchmark_methods.py \
#       configs/benchmark/safe_policies_demo.py
#   python tools/benchmark_methods.py configs/benchmark/safe_policies_demo.py \
#       --domains policy_validation_domains \
#       --work-dir work_dirs/safe_policies_demo_validation
_base_ = ['./safe_policies.py']
source_work_dir = 'work_dirs/synthetic_r18_source'
train_config = 'configs/s4t/synthetic_r18_source.py'
calibrated_checkpoint = (
    'work_dirs/synthetic_r18_source_calibrated/iter_400.pth')
