# synthetic_predictor_scale_lr_validation.py (the choice of S4T's learning
# rate on the validation domains, seed 0) on the source model with the
# relation predictor at the reference's scale:
#
#   python tools/benchmark_methods.py \
#       configs/benchmark/synthetic_predictor_scale_paper_lr_validation.py \
#       --work-dir work_dirs/predictor_scale_paper_lr
_base_ = ['./synthetic_predictor_scale_lr_validation.py',
          '../_base_/models/s4t_r18_paper_predictor.py']
model = dict(relation_predictor={{_base_.paper_relation_predictor}})
source_work_dir = 'work_dirs/synthetic_r18_paper_predictor_source_converged'
train_config = 'configs/s4t/synthetic_r18_paper_predictor_source_converged.py'
