# The continual stream (synthetic_continual.py: every benchmark domain in
# one sequence without reset, one online step per test batch) for the
# methods of synthetic_safe.py: the safe methods of issue 23 beside their
# originals and the field's stability baselines, from the demo's source
# model, seed 0:
#
#   python tools/benchmark_methods.py \
#       configs/benchmark/synthetic_continual_safe.py \
#       --work-dir work_dirs/continual_safe
#
# The gated policy blends every batch with the source statistics afresh,
# so its statistics cannot drift along the stream; what it lets through is
# the gradient methods' steps on batches far outside the source spread.
_base_ = ['./synthetic_safe.py']
continual = True
protocol = dict(_delete_=True, type='online', steps=1)
