# S4T-safe (ours): S4T under the shift-response normalisation policy, a
# rule fitted on the labelled source (the checkpoint's calibration) that
# decides per batch whether re-estimating BatchNorm statistics helps; S4T
# steps only on a batch it adapts. Results: docs/benchmarks.md ("Safe
# adaptation").
_base_ = ['./synthetic_r18_s4t_tta.py']
custom_hooks = [
    dict(type='TestTimeAdaptHook', adapter=dict(_base_.s4t_safe),
         protocol=dict(_base_.paper_protocol)),
]
