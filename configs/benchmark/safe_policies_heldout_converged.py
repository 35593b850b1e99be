# safe_policies_heldout_demo.py on the converged source model.
#
#   python tools/benchmark_methods.py \
#       configs/benchmark/safe_policies_heldout_converged.py
_base_ = ['./safe_policies_heldout_demo.py']
source_work_dir = 'work_dirs/synthetic_r18_source_converged'
train_config = 'configs/s4t/synthetic_r18_source_converged.py'
calibrated_checkpoint = (
    'work_dirs/synthetic_r18_source_converged_calibrated/iter_3000.pth')
