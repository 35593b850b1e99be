# A held-out check of the gated policy, run once after it was fixed and
# never used to choose anything: corruptions that neither the
# benchmark nor the validation domains use, alone on the test split and on
# the source-style scene shifts, 100 test images each, from the demo's
# source model, seed 0:
#
#   python tools/benchmark_methods.py \
#       configs/benchmark/synthetic_safe_heldout.py \
#       --work-dir work_dirs/safe_heldout
_base_ = ['./demo_model_methods.py']
heldout_samples = 100
_corruptions = [('snow', 3), ('motion_blur', 3), ('brightness', 4),
                ('pixelate', 4), ('impulse_noise', 3), ('zoom_blur', 3)]
heldout_domains = [
    dict(name=f'{c}-{s}',
         dataset=dict(num_samples=heldout_samples),
         corruption=dict(corruption=c, severity=s))
    for c, s in _corruptions
] + [
    dict(name=f'{g}+{c}-{s}',
         dataset=dict(geometry=g, num_samples=heldout_samples),
         corruption=dict(corruption=c, severity=s))
    for g, (c, s) in [('hall', ('snow', 3)),
                      ('cluttered_small', ('motion_blur', 3)),
                      ('corridor', ('brightness', 4))]
]
domains_key = 'heldout_domains'
methods = dict(
    _delete_=True,
    bn_adapt={{_base_.bn_adapt}},
    s4t={{_base_.s4t}},
    bn_adapt_safe={{_base_.bn_adapt_gated}},
    s4t_safe={{_base_.s4t_gated}},
)
