# TENT-safe: TENT (configs/baselines/synthetic_r18_tent_tta.py, lr 1e-2)
# under the shift-response normalisation policy of S4T-safe
# (configs/s4t/synthetic_r18_s4t_safe_tta.py, ours): entropy steps only on
# a batch the rule adapts, normalised with the batch's statistics there;
# the source model elsewhere. Needs a checkpoint calibrated for it.
_base_ = ['./synthetic_r18_tent_tta.py']
custom_hooks = [
    dict(
        type='TestTimeAdaptHook',
        adapter=dict(
            type='TentAdapter',
            task='semseg',
            norm_policy=dict(type='shift_response', hard=True,
                             live_steps=True),
            min_target_weight=0.5,
            optimizer=dict(type='SGD', lr=1e-2, momentum=0.9)),
        protocol=dict(type='paper', steps=40, num_batches=1, seed=0)),
]
