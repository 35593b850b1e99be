# Target domains of the embedded world: the two target styles and three
# ImageNet-C corruptions of the source style at severities 3 and 5, all on
# the test split. 'val_overcast' is a separate validation target for
# choosing adaptation hyper-parameters; it is never reported.
# source_domains evaluates on the source style's own test split, the
# reference point of the shifts (tools/test_time_adapt.py --domains
# source_domains).
corruptions = ['gaussian_noise', 'fog', 'contrast']
target_domains = [
    dict(name='target_warm', dataset=dict(style='target_warm')),
    dict(name='target_cool', dataset=dict(style='target_cool')),
] + [
    dict(name=f'{c}-{s}', dataset=dict(style='source'),
         corruption=dict(corruption=c, severity=s))
    for c in corruptions for s in (3, 5)
]
validation_domains = [
    dict(name='val_overcast', dataset=dict(style='val_overcast',
                                           split='val')),
]
source_domains = [dict(name='source', dataset=dict(style='source'))]

# Structural target domains: the same kinds of rooms seen through another
# camera, laid out or furnished differently (geometry presets, see
# s4t_mm/datasets/synthetic/scene.py GEOMETRIES), alone in the source style
# and combined with an appearance shift. Re-estimating BatchNorm statistics
# cannot undo these alone, unlike the appearance-only target_domains.
# 100 test images each. 'narrow_fov_high' (+ val_overcast, val split) is the
# validation domain; it is never reported.
structural_samples = 100
structural_domains = [
    dict(name=geometry,
         dataset=dict(geometry=geometry, num_samples=structural_samples))
    for geometry in ['wide_fov_low', 'cluttered_small', 'corridor', 'hall',
                     'round_objects']
] + [
    dict(name='corridor+target_cool',
         dataset=dict(geometry='corridor', style='target_cool',
                      num_samples=structural_samples)),
    dict(name='wide_fov_low+gaussian_noise-3',
         dataset=dict(geometry='wide_fov_low',
                      num_samples=structural_samples),
         corruption=dict(corruption='gaussian_noise', severity=3)),
]
structural_validation_domains = [
    dict(name='narrow_fov_high+val_overcast',
         dataset=dict(geometry='narrow_fov_high', style='val_overcast',
                      split='val', num_samples=structural_samples)),
]
# The demo's domains (configs/benchmark/demo.py): the appearance shifts and
# two of the source-style scene shifts, where re-estimating statistics loses
# against the source model.
demo_domains = target_domains + [
    d for d in structural_domains if d['name'] in ('corridor', 'hall')]
# Everything a benchmark reports / selects on, by key (e.g.
# tools/compare_methods.py --domains benchmark_domains).
benchmark_domains = target_domains + structural_domains
benchmark_validation_domains = (
    validation_domains + structural_validation_domains)

# Validation domains for choosing a normalisation policy (issue 23), never
# reported: the two above, the validation geometry alone in the source
# style, three corruptions that no reported domain uses (on the validation
# split) and the source style's own validation split (a policy must leave
# a batch of the source distribution alone).
validation_samples = 100
policy_validation_domains = benchmark_validation_domains + [
    dict(name='narrow_fov_high',
         dataset=dict(geometry='narrow_fov_high', split='val',
                      num_samples=validation_samples)),
] + [
    dict(name=f'val:{c}-{s}',
         dataset=dict(split='val', num_samples=validation_samples),
         corruption=dict(corruption=c, severity=s))
    for c, s in [('defocus_blur', 3), ('jpeg_compression', 4), ('frost', 3)]
] + [
    dict(name='source_val',
         dataset=dict(split='val', num_samples=validation_samples)),
]
