# The per-layer diagnosis of the normalisation statistics, on the
# validation domains only (policy_validation_domains), the demo's source
# model, seed 0:
#
#   python tools/benchmark_methods.py \
#       configs/benchmark/synthetic_norm_diagnosis.py \
#       --work-dir work_dirs/norm_diagnosis
#   python tools/analysis_tools/plot_norm_shift.py work_dirs/norm_diagnosis \
#       --method shift_scores --out docs/figures/norm_shift.png
#
# - shift_scores: how far each BatchNorm layer's statistics of the
#   adaptation batch lie from the source's, in the source's own
#   batch-to-batch spreads (the gated policy's z) -- measured with a
#   threshold no batch reaches, so the model is the source model throughout
#   and its row equals source-only;
# - bn_adapt_<stage>: BN-adapt's re-estimation (the batch's own statistics)
#   in one backbone stage only, every other layer on the source statistics:
#   which layers' re-estimation helps or hurts each task (the table's task
#   columns).
_base_ = ['./demo_model_methods.py']
domains_key = 'policy_validation_domains'


def _stage_only(stage):
    return dict(type='NormStatsAdapter',
                norm_policy=dict(type='prior', prior_strength=0,
                                 layers=rf'backbone\.{stage}\.'))


methods = dict(
    _delete_=True,
    shift_scores=dict(type='NormStatsAdapter',
                      norm_policy=dict(type='gated', threshold=1e9)),
    bn_adapt={{_base_.bn_adapt}},
    bn_adapt_stem=_stage_only('stem'),
    bn_adapt_layer1=_stage_only('layer1'),
    bn_adapt_layer2=_stage_only('layer2'),
    bn_adapt_layer3=_stage_only('layer3'),
    bn_adapt_layer4=_stage_only('layer4'),
)
