# The continual stream (synthetic_continual.py: every benchmark domain in
# one sequence without reset, one online step per test batch) for the
# methods of synthetic_safe.py: the gated methods beside their originals
# and the field's stability baselines, from the demo's source model, seed
# 0:
#
#   python tools/benchmark_methods.py \
#       configs/benchmark/synthetic_continual_safe.py \
#       --work-dir work_dirs/continual_safe
_base_ = ['./synthetic_safe.py']
continual = True
protocol = dict(_base_.online_protocol, _delete_=True)
