# synthetic_predictor_scale.py on the source model with the relation
# predictor at the reference's scale
# (configs/s4t/synthetic_r18_paper_predictor_source_converged.py, trained
# into source_work_dir unless a checkpoint is there):
#
#   python tools/benchmark_methods.py \
#       configs/benchmark/synthetic_predictor_scale_paper.py \
#       --work-dir work_dirs/predictor_scale_paper [--seeds 0 1 2]
_base_ = ['./synthetic_predictor_scale.py',
          '../_base_/models/s4t_r18_paper_predictor.py']
model = dict(relation_predictor={{_base_.paper_relation_predictor}})
source_work_dir = 'work_dirs/synthetic_r18_paper_predictor_source_converged'
train_config = 'configs/s4t/synthetic_r18_paper_predictor_source_converged.py'
