"""Drive the task-synchronisation analysis with a Runner: each domain of a
config adapted step by step and scored every few steps
(:class:`~s4t_mm.engine.hooks.TaskSyncHook`).

:func:`sync_reports` is the one cache of its reports, shared by every tool
that runs the analysis (``tools/analysis_tools/analyze_sync.py``,
``tools/compare_methods.py --sync-steps``, ``tools/benchmark_methods.py``).
"""
import copy
import os.path as osp
from typing import Dict, Optional, Sequence
from urllib.parse import quote

from mmengine.config import Config
from mmengine.dist import is_main_process
from mmengine.logging import print_log

from s4t_mm.engine.hooks import TaskSyncHook
from s4t_mm.engine.runner import DomainResults
from s4t_mm.registry import HOOKS
from s4t_mm.tta.protocols import protocol_config
from s4t_mm.utils import registered_class
from s4t_mm.visualization.sync_plots import plot_sync
from .adaptation import build_runner
from .adaptation_config import (is_paper_protocol, result_key, tta_hook_cfg,
                                with_seed)


def _is_sync_hook(entry: dict) -> bool:
    cls = registered_class(HOOKS, entry.get('type'))
    return cls is not None and issubclass(cls, TaskSyncHook)


def with_sync_hook(cfg: Config, interval: int,
                   steps: Optional[int] = None,
                   tolerance: float = 0.0) -> Config:
    """A copy of ``cfg`` with an analysing :class:`TaskSyncHook` and,
    if given, the paper protocol's step count set to ``steps``."""
    cfg = copy.deepcopy(cfg)
    tta = tta_hook_cfg(cfg)
    if tta is None:
        raise ValueError('the config has no TestTimeAdaptHook in '
                         'custom_hooks; there is no adaptation to analyse')
    protocol = protocol_config(tta.get('protocol'))
    if not is_paper_protocol(protocol):
        raise ValueError(f'the synchronisation analysis needs the paper '
                         f'protocol (adapt, then evaluate), the config uses '
                         f'{protocol.get("type")!r}')
    if steps is not None:
        protocol['steps'] = steps
    tta['protocol'] = protocol
    cfg.custom_hooks = [h for h in cfg.custom_hooks
                        if not _is_sync_hook(h)] + [
        dict(type='TaskSyncHook', interval=interval, analysis=True,
             tolerance=tolerance, plot=False)]
    return cfg


def run_sync_analysis(cfg: Config, checkpoint: str, domains: Sequence[dict],
                      steps: Optional[int], interval: int, seed: int,
                      work_dir: str, name: str = 'sync',
                      plot_dir: Optional[str] = None,
                      tolerance: float = 0.0) -> Dict[str, dict]:
    """Reset, adapt step by step and score every ``interval`` steps, on each
    domain; one runner walks the domains as
    :func:`s4t_mm.apis.adaptation.run_domains` does, its
    :class:`TaskSyncHook` observing the adaptation. ``seed`` sets the
    adaptation's random draws and batch (:func:`with_seed`).

    Returns ``{domain: sync_report}``. Each domain's plot goes to the
    runner's visualizer as image ``sync_<name>_<domain>`` (every vis
    backend; ``LocalVisBackend``: ``<log_dir>/vis_data/vis_image/``) and,
    with ``plot_dir``, is also written there as ``sync_<name>_<domain>.png``
    (path under ``'plot'`` in its report).
    """
    run_cfg = with_sync_hook(with_seed(cfg, seed), interval, steps,
                             tolerance)
    runner = build_runner(run_cfg, checkpoint, domains, True, seed, work_dir,
                          name)
    runner.test()
    hook = next(h for h in runner.hooks if isinstance(h, TaskSyncHook))
    reports = {}
    for domain, report in zip(domains, hook.reports):
        report = dict(report)
        image = f'sync_{name}_{domain["name"]}'
        if is_main_process():
            out_file = plot_sync(
                report, None if plot_dir is None else osp.join(
                    plot_dir, image + '.png'),
                title=f'{name} {domain["name"]}:',
                visualizer=runner.visualizer, name=image)
            if out_file is not None:
                report['plot'] = out_file
        reports[domain['name']] = report
        print_log(f'[{name}] {domain["name"]}: best step per task '
                  f'{report["best_step"]}, spread {report["spread"]}',
                  logger='current')
    return reports


def method_parts(out_dir: str, name: str, run: str) -> str:
    """The folder of one run of method ``name`` (``seed<seed>``, ``sync``)
    among the stored units of ``out_dir``:
    ``out_dir/parts/methods/<name>/<run>``."""
    return osp.join(out_dir, 'parts', 'methods', quote(name, safe=''), run)


def sync_reports(cfg: Config, checkpoint: str, domains: Sequence[dict],
                 seed: int, name: str, out_dir: str, steps: Optional[int],
                 interval: int, tolerance: float = 0.0,
                 resume: bool = False) -> Dict[str, dict]:
    """:func:`run_sync_analysis` of method ``name`` on every domain, each
    domain's report stored as it finishes in
    ``method_parts(out_dir, name, 'sync')/<domain>.json`` (keyed by the
    settings, checkpoint, seed and ``[steps, interval, tolerance]``) and,
    with ``resume``, reused. Plots go to
    ``out_dir/sync/sync_<name>_<domain>.png``."""
    store = DomainResults(method_parts(out_dir, name, 'sync'), resume)
    seeded = with_seed(cfg, seed)
    keys = {d['name']: result_key(seeded, checkpoint, d, seed,
                                  sync=[steps, interval, tolerance])
            for d in domains}
    reports = {d['name']: store.load(d['name'], keys[d['name']])
               for d in domains}
    for domain in [d for d in domains if reports[d['name']] is None]:
        report = run_sync_analysis(
            cfg, checkpoint, [domain], steps=steps, interval=interval,
            seed=seed, work_dir=osp.join(out_dir, name), name=name,
            plot_dir=osp.join(out_dir, 'sync'),
            tolerance=tolerance)[domain['name']]
        reports[domain['name']] = store.save(domain['name'],
                                             keys[domain['name']], report)
    return reports
