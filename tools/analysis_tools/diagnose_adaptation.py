"""What a gradient adaptation method does to a model, step by step.

    python tools/analysis_tools/diagnose_adaptation.py CONFIG --checkpoint CKPT
        [--domains validation_domains] [--only NAME ...] [--steps 40]
        [--interval 5] [--seeds 0] [--work-dir DIR] [--out FILE.json]
        [--cfg-options k=v ...]

For each domain, on the paper protocol's adaptation batch (its labels are
read here only to score, never given to the adapter):

- each loss term's share of the gradient norm on the adapted parameters at
  the first step, so a term that dominates the update shows;
- every ``interval`` steps: each task's metrics on the batch, collapse
  indicators (mean edge probability, share of pixels predicted as edges,
  share of the most frequent predicted class and the entropy of the
  predicted class distribution in bits) and, for S4T, the objective under a
  fixed mask in evaluation mode (``S4TAdapter.consistency``): whether the
  steps make the main heads and the reconstruction agree at all, given that
  the target they chase moves with the backbone;
- for a model with a relation predictor, each task scored from the relation
  predictor's reconstruction (mask ratio as configured) and from the main
  heads at step 0: is the reconstruction a better or a worse prediction
  than the one it is pulled toward?

Prints a table per domain and writes everything to ``--out`` (default
``<work dir>/diagnosis.json`` when ``--work-dir`` is given). The logic is
:mod:`s4t_mm.apis.diagnosis`.
"""
import argparse
import os.path as osp

from mmengine.logging import print_log

from s4t_mm.apis import tta_hook_cfg
from s4t_mm.apis.diagnosis import diagnose, format_report
from s4t_mm.apis.relation_analysis import select_domains
from s4t_mm.engine.launch import (add_checkpoint_arg, add_common_args,
                                  load_tool_config, one_seed)
from s4t_mm.utils import dump_json_atomic, register_all_modules


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Gradient shares and collapse indicators along '
        'adaptation')
    parser.add_argument('config', help='test-time adaptation config')
    add_checkpoint_arg(parser)
    parser.add_argument('--only', nargs='+',
                        help='only these domains (names in --domains)')
    parser.add_argument('--steps', type=int, default=40)
    parser.add_argument('--interval', type=int, default=5)
    parser.add_argument('--out', help='results JSON path')
    add_common_args(parser, domains='validation_domains', launcher=False)
    args = parser.parse_args(argv)
    args.seed = one_seed(parser, args)
    return args


def main(argv=None):
    args = parse_args(argv)
    # models and adapters are built here, outside a Runner's scope
    register_all_modules(init_default_scope=True)
    cfg = load_tool_config(args.config, args.checkpoint, args.work_dir,
                           args.cfg_options)
    if tta_hook_cfg(cfg) is None:
        raise ValueError(f'{args.config} has no TestTimeAdaptHook in '
                         'custom_hooks: nothing to diagnose')
    domains = select_domains(cfg, args.domains, args.only, source=False)
    reports = diagnose(cfg, args.checkpoint, domains, args.steps,
                       args.interval, args.seed)
    for report in reports:
        print_log(format_report(report), logger='current')
    out = args.out or (osp.join(args.work_dir, 'diagnosis.json')
                       if args.work_dir else None)
    if out:
        dump_json_atomic(reports, out)
        print_log(f'written {osp.abspath(out)}', logger='current')
    return reports


if __name__ == '__main__':
    main()
