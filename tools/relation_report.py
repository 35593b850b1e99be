"""Task relations of a checkpoint on the source split and on target domains,
before and after test-time adaptation.

    python tools/relation_report.py CONFIG --checkpoint CKPT
        [--work-dir DIR] [--num-batches N] [--seeds S]
        [--domains target_domains] [--only NAME ...] [--cfg-options k=v ...]

R (rows: the visible task, columns: the reconstructed task; definition in
``s4t_mm/evaluation/task_relations.py`` and ``docs/relations.md``) is
computed without labels on the first N batches, in dataset order, of each
domain's test loader: ``source`` (the config's ``test_dataloader``) and each
entry of ``cfg[--domains]`` (built with ``domain_dataloader``).

"Before" is the checkpoint's (source) weights. "After" is the state the
config's ``TestTimeAdaptHook`` leaves once the test loop has walked those N
batches: one mmengine Runner (:func:`s4t_mm.apis.adaptation.build_runner`,
with the config's TestTimeAdaptHook alone, seeded with ``--seeds`` (one
seed) as :func:`~s4t_mm.apis.adaptation.with_seed` does, and the global RNG
seeded with it before adapting) walks the domains with its
:class:`~s4t_mm.engine.MultiDomainTestLoop`, one ``runner.test()`` on each
domain's first N batches. The protocol's ``before_domain`` sees the whole
domain (the paper protocol adapts here: ``steps`` steps on its seeded
batches of the domain), then its ``before_batch`` runs for each of the N
batches (episodic and online protocols adapt here; episodic ends adapted to
the N-th batch alone). Every domain starts from the source weights.

Writes ``<work_dir>/relation_report/<domain>.png`` (before | after |
after - before) and ``<work_dir>/relation_report/relations.json`` with
both matrices, the errors behind them and each matrix's mean absolute
distance to the source split's R before adaptation. The heat maps also go
to the runner's visualizer as images ``relation_report_<domain>`` (every
vis backend; ``LocalVisBackend``: ``<work_dir>/<timestamp>/vis_data/``).
"""
import argparse
import os.path as osp

import numpy as np
from mmengine.logging import print_log
from mmengine.runner.utils import set_random_seed

from s4t_mm.apis.adaptation import (build_runner, check_domains,
                                    domain_dataloader, tta_hook_cfg,
                                    with_seed)
from s4t_mm.engine.hooks import TestTimeAdaptHook
from s4t_mm.engine.launch import (add_common_args, load_tool_config,
                                  one_seed)
from s4t_mm.evaluation.task_relations import (first_batches_loader,
                                              json_matrix, relation_record)
from s4t_mm.utils import dump_json_atomic, register_all_modules, unwrap_model
from s4t_mm.visualization import HeatmapPanel, gain_notes, plot_relations


def parse_args():
    parser = argparse.ArgumentParser(description='Task-relation report')
    parser.add_argument('config', help='test-time adaptation config')
    parser.add_argument('--checkpoint', required=True,
                        help='source-trained checkpoint')
    parser.add_argument('--num-batches', type=int, default=4,
                        help='batches of each domain R is computed on')
    parser.add_argument('--only', nargs='+',
                        help='names of the target domains to report '
                        '(default: all)')
    add_common_args(parser, launcher=False)
    args = parser.parse_args()
    args.seed = one_seed(parser, args)
    return args


def select_domains(cfg, key, only):
    domains = check_domains(cfg, key)
    if only:
        names = [d['name'] for d in domains]
        unknown = sorted(set(only) - set(names))
        if unknown:
            raise ValueError(f'unknown domain(s) {unknown}; {key} has '
                             f'{names}')
        domains = [d for d in domains if d['name'] in only]
    return [dict(name='source')] + domains


def format_matrix(matrix, tasks):
    width = max(len(t) for t in tasks) + 1
    lines = [' ' * width + ''.join(f'{t:>9}' for t in tasks)]
    for task, row in zip(tasks, matrix):
        lines.append(f'{task:<{width}}' + ''.join(f'{v:9.3f}' for v in row))
    return '\n'.join(lines)


def main():
    args = parse_args()
    register_all_modules(init_default_scope=True)
    cfg = load_tool_config(args.config, args.checkpoint, args.work_dir,
                           args.cfg_options)
    if tta_hook_cfg(cfg) is None:
        raise ValueError(f'{args.config} has no TestTimeAdaptHook in '
                         'custom_hooks; nothing to adapt with')
    domains = select_domains(cfg, args.domains, args.only)
    run_cfg = with_seed(cfg, args.seed)
    hook_cfg = tta_hook_cfg(run_cfg)
    run_cfg.custom_hooks = [hook_cfg]
    runner = build_runner(run_cfg, args.checkpoint, domains, args.seed,
                          cfg.work_dir, 'relation_report')
    model = unwrap_model(runner.model)
    tta = next(h for h in runner.hooks if isinstance(h, TestTimeAdaptHook))

    out_dir = osp.join(cfg.work_dir, 'relation_report')
    report = dict(config=args.config, checkpoint=args.checkpoint,
                  adapter=hook_cfg['adapter'],
                  protocol=hook_cfg.get('protocol'),
                  num_batches=args.num_batches, seed=args.seed, domains={})
    source_r = None
    for domain in domains:
        name = domain['name']
        # the whole domain (the paper protocol draws its adaptation batches
        # from it), walked by the test loop for its first N batches only
        loader = first_batches_loader(
            runner.build_dataloader(domain_dataloader(run_cfg, domain),
                                    seed=args.seed),
            args.num_batches)
        batches = list(loader)
        before, before_rec = relation_record(model, batches, args.seed)
        set_random_seed(args.seed)
        runner.test_loop.select(loader)
        runner.test()
        steps = runner.message_hub.get_info('tta_stats')['steps']
        after, after_rec = relation_record(model, batches, args.seed)
        tta.adapter.reset()
        if source_r is None:
            source_r = before
        tasks = before_rec['tasks']
        to_source = {k: float(np.nanmean(np.abs(m - source_r)))
                     for k, m in (('before', before), ('after', after))}
        report['domains'][name] = dict(
            before=before_rec, after=after_rec,
            difference=json_matrix(after - before),
            mean_abs_to_source_before=to_source,
            adaptation_steps=steps)
        plot_relations(tasks, [
            HeatmapPanel(f'{name}: before adaptation\nmean |R - R_source| = '
                         f'{to_source["before"]:.3f}', before,
                         column_notes=gain_notes(before_rec)),
            HeatmapPanel(f'{name}: after adaptation\nmean |R - R_source| = '
                         f'{to_source["after"]:.3f}', after,
                         column_notes=gain_notes(after_rec)),
            HeatmapPanel(f'{name}: after - before', after - before,
                         difference=True),
        ], out_file=osp.join(out_dir, f'{name}.png'),
            visualizer=runner.visualizer, name=f'relation_report_{name}')
        print_log(f'{name} before adaptation:\n{format_matrix(before, tasks)}'
                  f'\n{name} after adaptation:\n'
                  f'{format_matrix(after, tasks)}\nmean |R - R_source|: '
                  f'before {to_source["before"]:.3f}, after '
                  f'{to_source["after"]:.3f}', logger='current')
    out = osp.join(out_dir, 'relations.json')
    dump_json_atomic(report, out)
    print_log(f'task relations: {out} and one PNG per domain in {out_dir}',
              logger='current')


if __name__ == '__main__':
    main()
