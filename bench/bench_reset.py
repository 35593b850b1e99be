"""Benchmark 2: episodic reset. s4t_mm's in-place snapshot restore versus
``load_state_dict(deepcopy(...))`` of model and optimizer (what most TTA code
does), and a check that both restore the source state bitwise.
Target: ratio <= 0.25.

    python bench/bench_reset.py [--config CFG] [--repeats 7]
"""
import copy

import torch

from common import build_model, med, median_time, parser, random_inputs
from s4t_mm.registry import ADAPTERS


def states_equal(a, b):
    return all(torch.equal(a[k], b[k]) for k in a)


def main():
    args = parser(__doc__).parse_args()
    model = build_model(args)
    inputs = random_inputs(args)
    source = {k: v.clone() for k, v in model.state_dict().items()}
    adapter = ADAPTERS.build(dict(type='S4TAdapter', optimizer=dict(
        type='SGD', lr=1e-3, momentum=0.9))).bind(model)
    # the usual way: keep deep copies, load them back every episode
    saved_model = copy.deepcopy(model.state_dict())
    saved_opt = copy.deepcopy(adapter.optimizer.state_dict())

    def load_state_dict_reset():
        model.load_state_dict(copy.deepcopy(saved_model))
        adapter.optimizer.load_state_dict(copy.deepcopy(saved_opt))

    adapter.adapt(inputs, steps=1)  # move away from the source state
    ours = median_time(adapter.reset, args.repeats, args.device)
    ours_exact = states_equal(source, model.state_dict())
    adapter.adapt(inputs, steps=1)
    theirs = median_time(load_state_dict_reset, args.repeats, args.device)
    theirs_exact = states_equal(source, model.state_dict())
    print(f'config {args.config}; snapshot holds {len(adapter.snapshot)} '
          f'tensors, {adapter.snapshot.numel():,} values')
    print(f'in-place reset:               median {med(ours) * 1e3:.2f} ms, '
          f'bitwise source state: {ours_exact}')
    print(f'load_state_dict(deepcopy()):  median {med(theirs) * 1e3:.2f} ms,'
          f' bitwise source state: {theirs_exact}')
    print(f'ratio ours / deepcopy: {med(ours) / med(theirs):.3f} '
          '(target <= 0.25)')


if __name__ == '__main__':
    main()
