# The embedded-world benchmark: every method on every embedded target
# domain (appearance and structural shifts, `benchmark_domains`), 3 seeds,
# from the converged source model
# (configs/s4t/synthetic_r18_source_converged.py). Run it with
#
#   python tools/benchmark_methods.py configs/benchmark/synthetic_methods.py
#
# Every gradient method runs twice: with BatchNorm batch statistics
# ('batch_stats', what the method does in its paper; its running statistics
# are re-estimated on the adaptation batch as BN-adapt does) and with the
# source statistics ('source_stats': the gradient's own effect). BN-adapt
# stands beside them, so "gain beyond BN-adapt" can be read off each pair.
# S4T against aux-consistency isolates the relation predictor: the same
# source model and objective, with each task's own auxiliary head in place
# of the joint masked autoencoder.
#
# Learning rates: S4T's were chosen on the validation domains only
# (`benchmark_validation_domains`: val_overcast and a structural validation
# domain, seed 0; docs/benchmarks.md has the sweep). The baselines keep the
# rates chosen on val_overcast for the quick model (see configs/baselines/).
# EATA (configs/baselines/synthetic_r18_eata_tta.py) is left out to keep the
# run within an hour on two cores; it stayed within 1 point of TENT in the
# earlier comparison.
_base_ = [
    '../s4t/synthetic_r18_source.py',
    '../_base_/datasets/synthetic_world_targets.py',
]
source_work_dir = 'work_dirs/synthetic_r18_source_converged'
train_config = 'configs/s4t/synthetic_r18_source_converged.py'
domains_key = 'benchmark_domains'
validation_domains_key = 'benchmark_validation_domains'
seeds = [0, 1, 2]
protocol = dict(type='paper', steps=40, num_batches=1, seed=0)
# methods whose per-task curves (score every 10 of 60 steps, seed 0) go into
# the synchronisation report
sync_methods = ['tent', 's4t', 's4t_ours']
sync_steps = 60
sync_interval = 10

bn_adapt = dict(type='NormStatsAdapter', momentum=0.1)
tent = dict(type='TentAdapter', task='semseg', norm_policy='batch_stats',
            optimizer=dict(type='SGD', lr=1e-2, momentum=0.9))
aux_consistency = dict(type='AuxConsistencyAdapter', loss_weight=0.01,
                       norm_policy='batch_stats',
                       optimizer=dict(type='SGD', lr=1e-6,
                                      weight_decay=1e-6))
# S4T as the reference runs it (squared source task weights, raw outputs,
# all of backbone + compressor + relation predictor adapted)
s4t = dict(type='S4TAdapter', weighting='squared_task_weights',
           loss_weight=0.01, norm_policy='batch_stats',
           optimizer=dict(type='SGD', lr=1e-5, weight_decay=1e-6))
# ours, chosen on the validation domains (the best of 20 S4T settings in
# configs/benchmark/synthetic_s4t_validation_sweep.py): the faithful
# objective compared on activated predictions (probabilities, unit normals)
# instead of raw outputs, lr 1e-4
s4t_ours = dict(type='S4TAdapter', weighting='squared_task_weights',
                loss_weight=0.01, norm_policy='batch_stats',
                compare='activated',
                optimizer=dict(type='SGD', lr=1e-4, weight_decay=1e-6))
# Safe adaptation (ours, issue 23), chosen on the validation domains only
# (policy_validation_domains, configs/benchmark/synthetic_safe_validation.py
# and the statistics-only threshold sweep, seeds 0 and 1; docs/benchmarks.md):
# a BatchNorm layer re-estimates its statistics only where the adaptation
# batch lies outside the source's own batch-to-batch spread (threshold 6
# spreads, the only threshold of 2.5-6 that kept every validation domain
# and seed within 0.5 % of source-only), and a gradient method steps only
# on a batch whose layers take mostly their own statistics (mean weight
# > 0.5), normalising its steps with the live blend: steps taken with
# mostly source statistics took TENT and S4T below source-only on
# frost-3 and more, where the statistics alone stayed within the rule.
gated = dict(type='gated', threshold=6.0)
gated_steps = dict(gated, live_steps=True)
bn_adapt_safe = dict(type='NormStatsAdapter', norm_policy=gated)
s4t_safe = dict(s4t, norm_policy=gated_steps, min_target_weight=0.5)
tent_safe = dict(tent, norm_policy=gated_steps, min_target_weight=0.5)
# The field's stability baselines (configs/baselines/synthetic_r18_sar_tta.py
# and synthetic_r18_cotta_tta.py, their papers' settings; not tuned here)
sar = dict(type='SarAdapter', task='semseg', entropy_margin=0.4, rho=0.05,
           reset_threshold=0.2, frozen_modules=['backbone.layer4'],
           norm_policy='batch_stats',
           optimizer=dict(type='SGD', lr=1e-2, momentum=0.9))
cotta = dict(type='CottaAdapter', task='semseg', teacher_momentum=0.999,
             restore_prob=0.01, confidence_threshold=0.92,
             num_augmentations=8, adapt_modules=['backbone', 'neck', 'heads'],
             norm_policy='batch_stats',
             optimizer=dict(type='Adam', lr=1e-3, betas=(0.9, 0.999)))
# S4T with the reference's own test-time task pairing (issue 24): its
# NYUD-v2 -> Taskonomy configs list the tasks in different orders, so most
# main heads are pulled toward another task's reconstruction
# (docs/experiments.md); the embedded world has the same four tasks
s4t_reference_pairing = dict(s4t, task_pairing='reference',
                             reference_pair='nyud_taskonomy')
methods = dict(
    bn_adapt=bn_adapt,
    tent=tent,
    tent_grad_only=dict(tent, norm_policy='source_stats'),
    aux_consistency=aux_consistency,
    aux_consistency_grad_only=dict(aux_consistency,
                                   norm_policy='source_stats'),
    s4t=s4t,
    s4t_grad_only=dict(s4t, norm_policy='source_stats'),
    s4t_ours=s4t_ours,
    s4t_ours_grad_only=dict(s4t_ours, norm_policy='source_stats'),
    s4t_reference_pairing=s4t_reference_pairing,
    bn_adapt_safe=bn_adapt_safe,
    tent_safe=tent_safe,
    s4t_safe=s4t_safe,
    sar=sar,
    cotta=cotta,
)
