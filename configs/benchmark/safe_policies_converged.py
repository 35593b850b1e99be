# safe_policies.py on the converged benchmark model (3000 iterations), its
# checkpoint calibrated for every normalisation policy (written on first
# use):
#
#   python tools/benchmark_methods.py \
#       configs/benchmark/safe_policies_converged.py
#   python tools/benchmark_methods.py \
#       configs/benchmark/safe_policies_converged.py \
#       --domains policy_validation_domains \
#       --work-dir work_dirs/safe_policies_converged_validation
_base_ = ['./safe_policies.py']
source_work_dir = 'work_dirs/synthetic_r18_source_converged'
train_config = 'configs/s4t/synthetic_r18_source_converged.py'
calibrated_checkpoint = (
    'work_dirs/synthetic_r18_source_converged_calibrated/iter_3000.pth')
