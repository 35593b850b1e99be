# The continual stream (synthetic_continual.py: every benchmark domain in
# one sequence without reset, one online step per test batch) for the safe
# methods of issue 23 beside their originals and the field's stability
# baselines, from the demo's source model (the 400-iteration one,
# calibrated at training), seed 0:
#
#   python tools/benchmark_methods.py \
#       configs/benchmark/synthetic_continual_safe.py \
#       --work-dir work_dirs/continual_safe
#
# The gated policy blends every batch with the source statistics afresh,
# so its statistics cannot drift along the stream; what it lets through is
# the gradient methods' steps on batches far outside the source spread.
_base_ = ['./synthetic_continual.py']
source_work_dir = 'work_dirs/synthetic_r18_source'
train_config = 'configs/s4t/synthetic_r18_source.py'
seeds = [0]
methods = dict(
    _delete_=True,
    bn_adapt={{_base_.bn_adapt}},
    tent={{_base_.tent}},
    s4t={{_base_.s4t}},
    bn_adapt_safe={{_base_.bn_adapt_safe}},
    tent_safe={{_base_.tent_safe}},
    s4t_safe={{_base_.s4t_safe}},
    sar={{_base_.sar}},
    cotta={{_base_.cotta}},
)
