"""Test a checkpoint on a list of target domains, source-only or adapted,
with one Runner: what ``tools/compare_methods.py``, the benchmark and the
analyses run for each (method, seed).

The Runner's :class:`~s4t_mm.engine.TestTimeAdaptLoop` does the work: it
loads the checkpoint through the Runner (``load_from``), walks the
domains and keeps every finished domain in its resume store
(:class:`~s4t_mm.engine.runner.DomainResults`), so a killed run resumes
where it stopped and ends with the same results.
"""
from typing import Dict, Optional, Sequence

from mmengine.config import Config
from mmengine.runner import Runner

from s4t_mm.engine.runner import (DomainResults, TestTimeAdaptLoop,
                                  TestTimeAdaptReport)
from s4t_mm.utils import json_ready
from .adaptation_config import adaptation_run_cfg


def runner_cfg(cfg: Config, checkpoint: str, domains: Sequence[dict],
               adapt: bool, seed: int, work_dir: str, name: str,
               results: Optional[DomainResults] = None) -> Config:
    """:func:`~s4t_mm.apis.adaptation_config.adaptation_run_cfg` with
    ``load_from=checkpoint`` and ``results`` as the loop's resume store."""
    run_cfg = adaptation_run_cfg(
        cfg, domains, adapt, seed, work_dir, name,
        results_dir=None if results is None else results.root,
        resume=results is not None and results.resume)
    run_cfg.load_from = checkpoint
    return run_cfg


def build_runner(cfg: Config, checkpoint: str, domains: Sequence[dict],
                 adapt: bool, seed: int, work_dir: str, name: str,
                 results: Optional[DomainResults] = None) -> Runner:
    """The Runner of :func:`runner_cfg`: ``runner.test()`` loads the
    checkpoint (an error if it does not fit the model) and returns the
    :class:`~s4t_mm.engine.TestTimeAdaptReport` of ``domains``."""
    return Runner.from_cfg(runner_cfg(cfg, checkpoint, domains, adapt, seed,
                                      work_dir, name, results))


def evaluate_domains(cfg: Config, checkpoint: str, domains: Sequence[dict],
                     adapt: bool, seed: int, work_dir: str, name: str,
                     results: Optional[DomainResults] = None
                     ) -> TestTimeAdaptReport:
    """Test the checkpoint on each domain with one Runner
    (:func:`build_runner`), or read them all from ``results`` without one.

    With ``adapt`` the config's TestTimeAdaptHook settings adapt, seeded
    with ``seed``, and, since one model walks the domains in order, an
    online protocol carries its state from domain to domain; without it
    the model is tested source-only. With ``results`` each finished
    domain is stored there at once, and domains already stored
    (``results.resume``) are not run again; no runner is built when all
    are. A protocol that carries its state across domains needs the
    domains before a missing one: then the run starts over from the first
    domain."""
    run_cfg = runner_cfg(cfg, checkpoint, domains, adapt, seed, work_dir,
                         name, results)
    return TestTimeAdaptLoop.stored_report(run_cfg) or \
        Runner.from_cfg(run_cfg).test()


def run_domains(cfg: Config, checkpoint: str, domains: Sequence[dict],
                adapt: bool, seed: int, work_dir: str, name: str,
                results: Optional[DomainResults] = None) -> Dict[str, dict]:
    """:func:`evaluate_domains` as plain JSON: ``{domain: {'metrics': ...,
    'tta_stats': ..., 'tta_events': ...}}`` (events: adapted runs only),
    non-finite metrics as None."""
    report = evaluate_domains(cfg, checkpoint, domains, adapt, seed,
                              work_dir, name, results)
    return {d['name']: json_ready(report.domains[d['name']].to_dict())
            for d in domains}
