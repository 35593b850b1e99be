# The benchmark source model (synthetic_r18_source_converged.py) with the
# relation predictor at the reference's scale (configs/_base_/models/
# s4t_r18_paper_predictor.py: C = 64, 256 tokens, encoder 4 x 64, decoder
# 2 x 64); everything else is the converged model's: data, Adam at 2e-3,
# 3000 iterations on the poly schedule, validation every 500, early stop on
# the validation mIoU, norm calibration. docs/benchmarks.md ("S4T at the
# paper's predictor scale") has its validation curve and time.
#
#   python tools/train.py \
#       configs/s4t/synthetic_r18_paper_predictor_source_converged.py
_base_ = ['./synthetic_r18_source_converged.py',
          '../_base_/models/s4t_r18_paper_predictor.py']
model = dict(relation_predictor={{_base_.paper_relation_predictor}})
