# S4T with the reference's scrambled test-time task pairing beside faithful
# S4T, BN-adapt and TENT, from the demo's source model, seed 0,
# on the 15 benchmark domains (and, with --domains policy_validation_domains,
# on the validation ones):
#
#   python tools/benchmark_methods.py \
#       configs/benchmark/synthetic_reference_pairing.py \
#       --work-dir work_dirs/reference_pairing
_base_ = ['./demo_model_methods.py']
methods = dict(
    _delete_=True,
    bn_adapt={{_base_.bn_adapt}},
    tent={{_base_.tent}},
    s4t={{_base_.s4t}},
    s4t_reference_pairing={{_base_.s4t_reference_pairing}},
)
