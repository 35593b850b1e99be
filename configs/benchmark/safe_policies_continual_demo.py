# The continual stream (every benchmark domain in one sequence without
# reset, one online step per test batch, synthetic_continual.py) for the
# methods of safe_policies.py, demo model:
#
#   python tools/benchmark_methods.py \
#       configs/benchmark/safe_policies_continual_demo.py
_base_ = ['./safe_policies_demo.py']
continual = True
protocol = dict(_base_.online_protocol, _delete_=True)
