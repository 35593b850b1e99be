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
