"""Task relations of a checkpoint on the source split and on target domains,
before and after test-time adaptation; the engine behind
``tools/analysis_tools/relation_report.py``.

R (rows: the visible task, columns: the reconstructed task; definition in
:mod:`s4t_mm.evaluation.task_relations` and ``docs/relations.md``) is
computed without labels on the first N batches, in dataset order, of each
domain's test loader. "Before" is the checkpoint's weights; "after" is the
state the config's ``TestTimeAdaptHook`` settings leave once the
:class:`~s4t_mm.engine.TestTimeAdaptLoop` of one Runner
(:func:`~s4t_mm.apis.adaptation.build_runner`) has walked those N batches.
Every domain starts from the source weights.
"""
import os.path as osp
from typing import List, Optional, Sequence

import numpy as np
import torch
from mmengine.config import Config
from mmengine.logging import print_log
from mmengine.runner.utils import set_random_seed

from s4t_mm.evaluation.task_relations import (first_batches_loader,
                                              json_matrix, relation_record)
from s4t_mm.tta.session import AdaptationSession
from s4t_mm.utils import unwrap_model
from s4t_mm.visualization import HeatmapPanel, gain_notes, plot_relations
from s4t_mm.engine.runner import check_domains, domain_dataloader
from .adaptation import build_runner
from .adaptation_config import tta_hook_cfg, with_seed


def select_domains(cfg: Config, key: str,
                   only: Optional[Sequence[str]] = None,
                   source: bool = True) -> List[dict]:
    """The domains of ``cfg[key]``, or only those named in ``only`` (an
    unknown name is an error that lists the valid ones), after ``source``
    (the config's test loader) unless ``source=False``."""
    domains = check_domains(cfg, key)
    if only:
        names = [d['name'] for d in domains]
        unknown = sorted(set(only) - set(names))
        if unknown:
            raise ValueError(f'unknown domain(s) {unknown}; {key} has '
                             f'{names}')
        domains = [d for d in domains if d['name'] in only]
    return ([dict(name='source')] if source else []) + domains


@torch.no_grad()
def _walk(session: AdaptationSession, model, loader) -> int:
    """Adapt as the protocol says while predicting the loader's batches, as
    a test loop would; returns the domain's adaptation steps."""
    model.eval()
    session.begin_domain(loader)
    for batch_idx, data_batch in enumerate(loader):
        session.before_batch(batch_idx, data_batch)
        outputs = session.predict(model, batch_idx, data_batch)
        session.after_predict(batch_idx, outputs)
    return session.report().steps


def format_matrix(matrix: np.ndarray, tasks: Sequence[str]) -> str:
    width = max(len(t) for t in tasks) + 1
    lines = [' ' * width + ''.join(f'{t:>9}' for t in tasks)]
    for task, row in zip(tasks, matrix):
        lines.append(f'{task:<{width}}' + ''.join(f'{v:9.3f}' for v in row))
    return '\n'.join(lines)


def relation_report(cfg: Config, checkpoint: str, domains: Sequence[dict],
                    num_batches: int, seed: int, out_dir: str) -> dict:
    """R before and after adaptation on each domain's first
    ``num_batches`` batches; a heat map per domain (``<out_dir>/<domain>
    .png`` and the runner's visualizer as ``relation_report_<domain>``).

    The config's TestTimeAdaptHook settings alone adapt, seeded with
    ``seed`` (:func:`~s4t_mm.apis.adaptation_config.with_seed`), the global
    RNG seeded with it before adapting. The protocol's ``before_domain``
    sees the whole
    domain (the paper protocol adapts there), its ``before_batch`` the N
    batches. Returns the JSON-ready report: both matrices, the errors
    behind them, each matrix's mean absolute distance to the source split's
    R before adaptation and the adaptation steps of each domain."""
    if tta_hook_cfg(cfg) is None:
        raise ValueError('the config has no TestTimeAdaptHook in '
                         'custom_hooks; nothing to adapt with')
    run_cfg = with_seed(cfg, seed)
    hook_cfg = tta_hook_cfg(run_cfg)
    run_cfg.custom_hooks = [hook_cfg]
    runner = build_runner(run_cfg, checkpoint, domains, True, seed,
                          cfg.work_dir, 'relation_report')
    # the Runner loads the checkpoint; its TestTimeAdaptLoop checks it and
    # hands it to the session, which then adapts the loaded weights
    session = runner.test_loop.session
    runner.load_or_resume()
    model = unwrap_model(runner.model)
    session.bind(model)
    report = dict(adapter=hook_cfg['adapter'],
                  protocol=hook_cfg.get('protocol'),
                  num_batches=num_batches, seed=seed, domains={})
    source_r = None
    for domain in domains:
        name = domain['name']
        # the whole domain (the paper protocol draws its adaptation batches
        # from it), walked for its first N batches only
        loader = first_batches_loader(
            runner.build_dataloader(
                domain_dataloader(run_cfg.test_dataloader, domain),
                seed=seed), num_batches)
        batches = list(loader)
        before, before_rec = relation_record(model, batches, seed)
        set_random_seed(seed)
        steps = _walk(session, runner.model, loader)
        after, after_rec = relation_record(model, batches, seed)
        session.adapter.reset()
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
    return report
