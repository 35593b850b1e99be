# Every test-time adaptation method of the embedded world, defined once: the
# runnable configs (configs/s4t/*_tta.py, configs/baselines/*_tta.py) and
# the benchmark tables (configs/benchmark/) take them by name. How each
# setting was chosen and what it scores: docs/benchmarks.md ("Baselines'
# settings", "Choosing S4T's settings on the validation domains", "Safe
# adaptation"). A hook takes a copy (adapter=dict(_base_.s4t)): sharing the
# entry's object would give the hook's adapter the entry's `_scope_` when
# the config is inherited as s4t_mm::.
_base_ = ['./protocols.py']

# BN-adapt: BatchNorm statistics re-estimated on the adaptation batch.
bn_adapt = dict(type='NormStatsAdapter', momentum=0.1)
# TENT: entropy of the segmentation, only the normalisation affine
# parameters move.
tent = dict(type='TentAdapter', task='semseg', norm_policy='batch_stats',
            optimizer=dict(type='SGD', lr=1e-2, momentum=0.9))
# Conventional multi-task TTT: each task's auxiliary head pulled toward its
# main head (S4T without its relation predictor).
aux_consistency = dict(type='AuxConsistencyAdapter', loss_weight=0.01,
                       norm_policy='batch_stats',
                       optimizer=dict(type='SGD', lr=1e-6,
                                      weight_decay=1e-6))
# S4T as the reference runs it (squared source task weights, raw outputs,
# all of backbone + compressor + relation predictor adapted).
s4t = dict(type='S4TAdapter', weighting='squared_task_weights',
           loss_weight=0.01, norm_policy='batch_stats',
           optimizer=dict(type='SGD', lr=1e-5, weight_decay=1e-6))
# S4T compared on activated predictions (probabilities, unit normals)
# instead of raw outputs, lr 1e-4 (ours).
s4t_ours = dict(type='S4TAdapter', weighting='squared_task_weights',
                loss_weight=0.01, norm_policy='batch_stats',
                compare='activated',
                optimizer=dict(type='SGD', lr=1e-4, weight_decay=1e-6))
# The safe methods (ours): the shift-response policy, a rule fitted on the
# labelled source (the checkpoint's calibration), re-estimates a batch's
# statistics only where it expects that to help; a gradient method steps
# only on a batch it adapts, normalised there with the batch's statistics.
shift_response = dict(type='shift_response', hard=True)
shift_response_steps = dict(shift_response, live_steps=True)
bn_adapt_safe = dict(type='NormStatsAdapter', norm_policy=shift_response)
s4t_safe = dict(s4t, norm_policy=shift_response_steps, min_target_weight=0.5)
tent_safe = dict(tent, norm_policy=shift_response_steps,
                 min_target_weight=0.5)
# The first safe policy (ours, superseded by shift_response): a layer
# re-estimates only outside 6 of the source's batch-to-batch spreads.
gated = dict(type='gated', threshold=6.0)
gated_steps = dict(gated, live_steps=True)
bn_adapt_gated = dict(type='NormStatsAdapter', norm_policy=gated)
s4t_gated = dict(s4t, norm_policy=gated_steps, min_target_weight=0.5)
tent_gated = dict(tent, norm_policy=gated_steps, min_target_weight=0.5)
# The field's stability baselines with their papers' settings: SAR (Niu et
# al., ICLR 2023; TENT's lr) and CoTTA (Wang et al., CVPR 2022; 8 augmented
# copies instead of 32 to fit the CPU).
sar = dict(type='SarAdapter', task='semseg', entropy_margin=0.4, rho=0.05,
           reset_threshold=0.2, frozen_modules=['backbone.layer4'],
           norm_policy='batch_stats',
           optimizer=dict(type='SGD', lr=1e-2, momentum=0.9))
cotta = dict(type='CottaAdapter', task='semseg', teacher_momentum=0.999,
             restore_prob=0.01, confidence_threshold=0.92,
             num_augmentations=8, adapt_modules=['backbone', 'neck', 'heads'],
             norm_policy='batch_stats',
             optimizer=dict(type='Adam', lr=1e-3, betas=(0.9, 0.999)))
# S4T with the reference's own test-time task pairing (its NYUD-v2 ->
# Taskonomy task orders; docs/experiments.md).
s4t_reference_pairing = dict(s4t, task_pairing='reference',
                             reference_pair='nyud_taskonomy')
# EATA without its Fisher regulariser: entropy of the confident,
# non-redundant segmentation pixels.
eata = dict(type='EataAdapter', task='semseg', entropy_margin=0.4,
            redundancy_margin=0.05, norm_policy='batch_stats',
            optimizer=dict(type='SGD', lr=1e-2, momentum=0.9))
# TTT-MAE: masked image reconstruction with the 'image' branch of the
# TTT-MAE source model (configs/baselines/synthetic_r18_tttmae_source.py);
# source statistics, since its encoder sees masked images.
tttmae = dict(type='MaskedImageAdapter', branch='image',
              norm_policy='source_stats',
              optimizer=dict(type='SGD', lr=1e-5, weight_decay=1e-6))
