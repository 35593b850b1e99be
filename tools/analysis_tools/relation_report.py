"""Task relations of a checkpoint on the source split and on target domains,
before and after test-time adaptation.

    python tools/analysis_tools/relation_report.py CONFIG --checkpoint CKPT
        [--work-dir DIR] [--num-batches N] [--seeds S]
        [--domains target_domains] [--only NAME ...] [--cfg-options k=v ...]

R (rows: the visible task, columns: the reconstructed task; definition in
``s4t_mm/evaluation/task_relations.py`` and ``docs/relations.md``) is
computed without labels on the first N batches, in dataset order, of each
domain's test loader: ``source`` (the config's ``test_dataloader``) and each
entry of ``cfg[--domains]``. "Before" is the checkpoint's (source) weights,
"after" the state the config's ``TestTimeAdaptHook`` (seeded with
``--seeds``, one seed) leaves once one Runner's test loop has walked those N
batches; every domain starts from the source weights
(:func:`s4t_mm.apis.relation_analysis.relation_report`).

Writes ``<work_dir>/relation_report/<domain>.png`` (before | after |
after - before) and ``<work_dir>/relation_report/relations.json`` with
both matrices, the errors behind them and each matrix's mean absolute
distance to the source split's R before adaptation. The heat maps also go
to the runner's visualizer as images ``relation_report_<domain>`` (every
vis backend; ``LocalVisBackend``: ``<work_dir>/<timestamp>/vis_data/``).
"""
import argparse
import os.path as osp

from mmengine.logging import print_log

from s4t_mm.apis.relation_analysis import relation_report, select_domains
from s4t_mm.engine.launch import (add_checkpoint_arg, add_common_args,
                                  load_tool_config, one_seed)
from s4t_mm.utils import dump_json_atomic, register_all_modules


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Task-relation report')
    parser.add_argument('config', help='test-time adaptation config')
    add_checkpoint_arg(parser)
    parser.add_argument('--num-batches', type=int, default=4,
                        help='batches of each domain R is computed on')
    parser.add_argument('--only', nargs='+',
                        help='names of the target domains to report '
                        '(default: all)')
    add_common_args(parser, launcher=False)
    args = parser.parse_args(argv)
    args.seed = one_seed(parser, args)
    return args


def main(argv=None) -> dict:
    args = parse_args(argv)
    register_all_modules(init_default_scope=True)
    cfg = load_tool_config(args.config, args.checkpoint, args.work_dir,
                           args.cfg_options)
    domains = select_domains(cfg, args.domains, args.only)
    out_dir = osp.join(cfg.work_dir, 'relation_report')
    report = dict(config=args.config, checkpoint=args.checkpoint,
                  **relation_report(cfg, args.checkpoint, domains,
                                    args.num_batches, args.seed, out_dir))
    out = osp.join(out_dir, 'relations.json')
    dump_json_atomic(report, out)
    print_log(f'task relations: {out} and one PNG per domain in {out_dir}',
              logger='current')
    return report


if __name__ == '__main__':
    main()
