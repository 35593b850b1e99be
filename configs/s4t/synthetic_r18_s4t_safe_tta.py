# S4T-safe (ours, issue 23): S4T as the reference runs it
# (configs/s4t/synthetic_r18_s4t_tta.py: squared source task weights, raw
# outputs, SGD lr 1e-5, paper protocol) under the gated normalisation
# policy instead of batch statistics:
# - each BatchNorm layer tests the adaptation batch against the source's
#   own batch-to-batch spread of its statistics (stored in the checkpoint
#   by the source training's NormCalibrationHook, or by
#   tools/analysis_tools/calibrate_norm_stats.py); within 6 spreads it keeps
#   the source statistics, beyond it blends toward the batch's,
#   a = 1 - (6 / z)^2;
# - S4T's gradient steps run only on a batch whose layers take mostly
#   their own statistics (mean a > 0.5), and normalise with the live blend
#   of the source statistics and each step's batch statistics.
# Chosen on policy_validation_domains only (docs/benchmarks.md): a change
# of the scene (camera, layout) moves the statistics by about 2.5 spreads
# and is left alone, frost-3 by 3-8 and hurts when adapted to, and
# S4T's gradient steps taken on a model that keeps mostly source
# statistics took frost-3 to -2.1 % (the statistics alone: +0.1). The
# price: most of BN-adapt's gain on mild appearance shifts is given up.
# The same policy serves BN-adapt-safe and TENT-safe.
_base_ = ['./synthetic_r18_s4t_tta.py']
custom_hooks = [
    dict(
        type='TestTimeAdaptHook',
        adapter=dict(
            type='S4TAdapter',
            weighting='squared_task_weights',
            loss_weight=0.01,
            norm_policy=dict(type='gated', threshold=6.0, live_steps=True),
            min_target_weight=0.5,
            optimizer=dict(type='SGD', lr=1e-5, weight_decay=1e-6)),
        protocol=dict(type='paper', steps=40, num_batches=1, seed=0)),
]
