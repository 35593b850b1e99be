# safe_policies.py on the source model with the relation predictor at the
# reference's scale: do S4T's steps add anything at this scale once the
# statistics are chosen? Its checkpoint calibrated for the shift-response
# rule (a new file beside the original):
#
#   SRC=work_dirs/synthetic_r18_paper_predictor_source_converged
#   python tools/analysis_tools/calibrate_norm_stats.py \
#       configs/s4t/synthetic_r18_paper_predictor_source_converged.py \
#       $SRC/iter_3000.pth --out ${SRC}_calibrated/iter_3000.pth
#   python tools/benchmark_methods.py \
#       configs/benchmark/safe_policies_paper_predictor.py \
#       --work-dir work_dirs/safe_policies_paper_predictor --seeds 0
#
# Rows: BN-adapt, the statistics shift_response chooses alone, and S4T on
# them exactly as safe_policies.py runs it (s4t_shift_response: the
# reference's objective, lr 1e-5, 40 steps; the same row as the small
# model's "S4T on shift_response" column), so the two scales compare row
# for row; the benchmark adds the oracle.
# The question's rule, written here before any run of this table, and the
# outcome: docs/benchmarks.md ("S4T under the safe policy at the paper's
# scale").
_base_ = ['./safe_policies.py',
          '../_base_/models/s4t_r18_paper_predictor.py']
model = dict(relation_predictor={{_base_.paper_relation_predictor}})
source_work_dir = 'work_dirs/synthetic_r18_paper_predictor_source_converged'
train_config = 'configs/s4t/synthetic_r18_paper_predictor_source_converged.py'
calibrated_checkpoint = (
    'work_dirs/synthetic_r18_paper_predictor_source_converged_calibrated/'
    'iter_3000.pth')
methods = dict(
    _delete_=True,
    bn_adapt={{_base_.methods.bn_adapt}},
    shift_response={{_base_.methods.shift_response}},
    s4t_shift_response={{_base_.methods.s4t_shift_response}},
)
