# The continual stream for the methods of safe_policies.py, converged
# model:
#
#   python tools/benchmark_methods.py \
#       configs/benchmark/safe_policies_continual_converged.py
_base_ = ['./safe_policies_converged.py']
continual = True
protocol = dict(_base_.online_protocol, _delete_=True)
