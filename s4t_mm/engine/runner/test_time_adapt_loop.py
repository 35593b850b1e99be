"""Test a model on a list of target domains, adapting it on each as it goes:
the loop behind s4t_mm's ``runner.test()``."""
import inspect
import os.path as osp
import re
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Union

import torch
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.runner import TestLoop, autocast
from torch.utils.data import DataLoader

from s4t_mm.fileio import check_state_dict_fits
from s4t_mm.registry import LOOPS
from s4t_mm.tta.protocols import build_protocol
from s4t_mm.tta.session import AdaptationReport, AdaptationSession
from s4t_mm.utils import unwrap_model
from .domain_results import DomainResults, adaptation_settings, result_key
from .target_domains import (domain_dataloader, domain_list,
                             whole_batches_per_rank)

#: How mmengine's ``Runner.load_checkpoint`` renames the keys of
#: ``load_from`` (its default ``revise_keys``, one pattern).
RUNNER_REVISE_KEY = (r'^module.', '')


@dataclass
class DomainReport:
    """One target domain's test: its metrics and, when the model adapted,
    what adaptation did there (None: source-only)."""

    metrics: Dict[str, float]
    adaptation: Optional[AdaptationReport] = None

    def to_dict(self) -> dict:
        """The stored form: ``metrics``, ``tta_stats`` (None source-only)
        and, adapted, ``tta_events`` and the policy's ``norm_weights`` and
        ``norm_scores`` where it has them."""
        result = dict(metrics=dict(self.metrics), tta_stats=None)
        if self.adaptation is not None:
            result.update(tta_stats=self.adaptation.stats,
                          tta_events=self.adaptation.events)
            for key in ('norm_weights', 'norm_scores'):
                if getattr(self.adaptation, key):
                    result[key] = getattr(self.adaptation, key)
        return result

    @classmethod
    def from_dict(cls, result: dict) -> 'DomainReport':
        """The report of a stored :meth:`to_dict`."""
        if result.get('tta_stats') is None:
            return cls(dict(result['metrics']))
        return cls(dict(result['metrics']), AdaptationReport(
            stats=result['tta_stats'], events=result.get('tta_events') or [],
            norm_weights=result.get('norm_weights', {}),
            norm_scores=result.get('norm_scores', {})))


@dataclass
class TestTimeAdaptReport:
    """What ``runner.test()`` returns with a :class:`TestTimeAdaptLoop`:
    each target domain's :class:`DomainReport` in the loop's order, and the
    names of those read back from the resume store instead of run."""

    domains: Dict[str, DomainReport] = field(default_factory=dict)
    resumed: List[str] = field(default_factory=list)

    def to_dict(self) -> Dict[str, dict]:
        """``{domain: DomainReport.to_dict()}``."""
        return {name: r.to_dict() for name, r in self.domains.items()}


class _DomainPlan:
    """The domains of a run, each one's loader config, and which of them
    the run takes from its resume store (:attr:`found`) and which it runs
    (:attr:`todo`); what :class:`TestTimeAdaptLoop` decides before it
    builds anything."""

    def __init__(self, cfg, dataloader: dict, evaluator,
                 domains: Union[str, Sequence[dict]], adapter: Optional[dict],
                 protocol: Union[str, dict, None], seed: int,
                 carries_state: bool, results_dir: Optional[str],
                 resume: bool, run_name: str):
        if isinstance(domains, str):
            domains = domain_list(cfg.get(domains), domains)
        self.domains = domain_list(domains, 'domains')
        self.loaders = {d['name']: domain_dataloader(dataloader, d)
                        for d in self.domains}
        self.run_name = run_name
        self.store = None if results_dir is None else DomainResults(
            osp.join(cfg.get('work_dir', ''), results_dir), resume)
        self.keys, found = {}, {}
        if self.store is not None:
            checkpoint = cfg.get('load_from')
            if checkpoint is None:
                raise ValueError('results_dir keys each stored result by '
                                 'its checkpoint; set load_from')
            adaptation = adaptation_settings(adapter, protocol, seed)
            for name, loader in self.loaders.items():
                self.keys[name] = result_key(
                    name, checkpoint, None if adapter is None else seed,
                    model=cfg.get('model'), dataloader=loader,
                    evaluator=evaluator, adaptation=adaptation)
                stored = self.store.load(name, self.keys[name])
                if stored is not None:
                    found[name] = stored
        self.todo = [d for d in self.domains if d['name'] not in found]
        # finished domains run again: the first missing one starts from
        # the state they leave
        self.rerun = len(found) if found and self.todo and carries_state \
            else 0
        if self.rerun:
            self.first_missing = self.todo[0]['name']
            self.todo, found = list(self.domains), {}
        self.found = {n: DomainReport.from_dict(r) for n, r in found.items()}

    def log(self) -> None:
        if self.rerun:
            print_log(f'[{self.run_name}] the protocol carries the adapted '
                      f'state across domains; {self.rerun} finished '
                      'domain(s) are run again to rebuild the state '
                      f'{self.first_missing!r} starts from',
                      logger='current')
        elif self.found:
            print_log(f'[{self.run_name}] resumed: {len(self.found)} of '
                      f'{len(self.domains)} domains already finished '
                      f'({", ".join(self.found)})', logger='current')

    def keep(self, name: str, report: DomainReport) -> None:
        """Store a finished domain's report (when there is a store)."""
        if self.store is not None:
            self.store.save(name, self.keys[name], report.to_dict())


class _CheckpointToLoop(Hook):
    """Hands the loop the checkpoint the Runner loads (``load_from``):
    mmengine tells hooks, not loops, with ``after_load_checkpoint``."""

    priority = 'VERY_HIGH'

    def __init__(self, loop: 'TestTimeAdaptLoop'):
        self.loop = loop

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        self.loop.after_load_checkpoint(checkpoint)


@LOOPS.register_module()
class TestTimeAdaptLoop(TestLoop):
    """mmengine's test loop over a list of target domains, adapting the
    model with an :class:`~s4t_mm.tta.session.AdaptationSession`::

        cfg.test_cfg = dict(type='TestTimeAdaptLoop',
                            domains='target_domains',
                            adapter=dict(type='S4TAdapter'),
                            protocol=dict(type='paper', steps=40), seed=0)
        cfg.load_from = CHECKPOINT
        report = Runner.from_cfg(cfg).test()   # a TestTimeAdaptReport

    The Runner loads ``load_from`` inside ``runner.test()``; the loop
    checks that every key and shape of it fits the model (a checkpoint of
    another model is an error, not mmengine's warning) and hands it to the
    session (the gated policy's calibration), then binds the session to
    the loaded model. Per domain, in order, one model throughout (an online
    protocol carries its state from domain to domain): the domain's loader
    (the config's test dataloader with the domain's keys, built once) ->
    hooks' ``before_test_epoch`` -> the session begins the domain (the
    paper protocol adapts here) -> per batch: the protocol resets or adapts
    (:meth:`AdaptationSession.before_batch`), the session predicts
    (preprocessing the batch once), the metric scores, the guard checks
    the predictions -> the metrics -> hooks' ``after_test_epoch`` -> the
    domain's :class:`DomainReport`. Each domain is one test epoch for the
    hooks; ``before_test`` and ``after_test`` enclose the whole walk.

    Args:
        runner: the Runner.
        dataloader: the config's test dataloader (a config dict); each
            domain's loader is this one with the domain's keys
            (:func:`~s4t_mm.engine.runner.target_domains.domain_dataloader`)
            and whole batches per rank.
        evaluator: the test evaluator config; a fresh one per domain.
        domains: a list of domains or the key of the config that holds it.
        adapter: config of a registered adapter; None tests the model
            source-only.
        protocol: the adaptation protocol (see ``TestTimeAdaptHook``).
        seed: the seed of the adaptation's draws (see
            :meth:`AdaptationSession.batch_seed`).
        results_dir: keep each finished domain's result there, at once
            (:class:`~s4t_mm.engine.runner.domain_results.DomainResults`,
            keyed by the settings, the checkpoint and the seed); a relative
            path is taken relative to ``work_dir``.
        resume: take the domains already in ``results_dir`` from there
            (all of them again when the protocol carries the state across
            domains and one is missing).
        fp16: autocast the predictions.
    """

    def __init__(self, runner, dataloader: dict, evaluator,
                 domains: Union[str, Sequence[dict]] = 'target_domains',
                 adapter: Optional[dict] = None,
                 protocol: Union[str, dict, None] = None, seed: int = 0,
                 results_dir: Optional[str] = None, resume: bool = False,
                 fp16: bool = False):
        if not isinstance(dataloader, dict):
            raise TypeError('TestTimeAdaptLoop builds each domain\'s loader '
                            'from the test dataloader config, got a '
                            f'{type(dataloader).__name__}')
        #: the adaptation flow (None: source-only)
        self.session = None if adapter is None else AdaptationSession(
            adapter, protocol, seed, reuse_preprocessing=True)
        self._plan = _DomainPlan(
            runner.cfg, dataloader, evaluator, domains, adapter, protocol,
            seed, self.session is not None and
            self.session.protocol.carries_state_across_domains, results_dir,
            resume, runner.experiment_name)
        self._plan.log()
        #: the target domains, in order
        self.domains = self._plan.domains
        first = (self._plan.todo or self.domains)[0]['name']
        super().__init__(runner, whole_batches_per_rank(
            self._plan.loaders[first]), evaluator, fp16)
        self._evaluator_cfg = evaluator
        self._loaders: Dict[str, DataLoader] = {first: self.dataloader}
        runner.register_hook(_CheckpointToLoop(self))

    @staticmethod
    def stored_report(cfg) -> Optional[TestTimeAdaptReport]:
        """The report a Runner of ``cfg`` (a config whose ``test_cfg`` is a
        TestTimeAdaptLoop) would return when its resume store already holds
        every domain, read without building the Runner; None when a domain
        is missing."""
        loop = dict(cfg.test_cfg)
        loop.pop('type')
        args = inspect.signature(TestTimeAdaptLoop).bind(
            None, dataloader=cfg.test_dataloader,
            evaluator=cfg.test_evaluator, **loop)
        args.apply_defaults()
        args = args.arguments
        carries_state = args['adapter'] is not None and build_protocol(
            args['protocol']).carries_state_across_domains
        plan = _DomainPlan(cfg, args['dataloader'], args['evaluator'],
                           args['domains'], args['adapter'], args['protocol'],
                           args['seed'], carries_state, args['results_dir'],
                           args['resume'], cfg.get('experiment_name', ''))
        if plan.todo:
            return None
        plan.log()
        return TestTimeAdaptReport(dict(plan.found), list(plan.found))

    def after_load_checkpoint(self, checkpoint: dict) -> None:
        """The Runner read ``load_from``: check that it fits the model, key
        for key and shape for shape, and give it to the session."""
        pattern, replacement = RUNNER_REVISE_KEY
        state_dict = {re.sub(pattern, replacement, key): value
                      for key, value in checkpoint.get(
                          'state_dict', checkpoint).items()}
        check_state_dict_fits(unwrap_model(self.runner.model), state_dict,
                              self.runner.cfg.get('load_from'))
        if self.session is not None:
            self.session.after_load_checkpoint(checkpoint)

    def dataloader_of(self, domain: dict) -> DataLoader:
        """The domain's loader, built the first time it is asked for."""
        name = domain['name']
        if name not in self._loaders:
            self._loaders[name] = self.runner.build_dataloader(
                whole_batches_per_rank(self._plan.loaders[name]),
                seed=self.runner.seed,
                diff_rank_seed=(self.runner.cfg.get('randomness') or {}).get(
                    'diff_rank_seed', False))
        return self._loaders[name]

    def run(self) -> TestTimeAdaptReport:
        """Test every domain not already stored; returns the report."""
        self.runner.call_hook('before_test')
        report = TestTimeAdaptReport(resumed=list(self._plan.found))
        for domain in self.domains:
            name = domain['name']
            if name in self._plan.found:
                report.domains[name] = self._plan.found[name]
                continue
            if len(self.dataloader_of(domain).dataset) == 0:
                raise ValueError(f'target domain {name!r} has no samples; '
                                 'check its dataset settings')
            report.domains[name] = self.run_domain(
                name, self.dataloader_of(domain))
            self._plan.keep(name, report.domains[name])
        self.runner.call_hook('after_test')
        return report

    def run_domain(self, name: str, dataloader: DataLoader) -> DomainReport:
        """Test (and adapt on) domain ``name``'s loader as one test epoch,
        with a fresh evaluator; the session binds to the model the first
        time, after the Runner loaded the checkpoint."""
        print_log(f'[{self.runner.experiment_name}] {name}', logger='current')
        self.dataloader = dataloader
        self.evaluator = self.runner.build_evaluator(self._evaluator_cfg)
        metainfo = getattr(dataloader.dataset, 'metainfo', None)
        if metainfo is not None:
            self.evaluator.dataset_meta = metainfo
            self.runner.visualizer.dataset_meta = metainfo
        self.runner.call_hook('before_test_epoch')
        self.runner.model.eval()
        if self.session is not None:
            self.session.bind(unwrap_model(self.runner.model))
            self.session.begin_domain(dataloader)
        for idx, data_batch in enumerate(dataloader):
            self.run_iter(idx, data_batch)
        metrics = self.evaluator.evaluate(len(dataloader.dataset))
        adaptation = None if self.session is None else self.session.report()
        self.runner.call_hook('after_test_epoch', metrics=metrics)
        return DomainReport(dict(metrics), adaptation)

    @torch.no_grad()
    def run_iter(self, idx: int, data_batch: dict) -> None:
        """One batch: the protocol resets or adapts, the model predicts
        (through the session, reusing an adapted batch's preprocessing),
        the metric scores, the guard checks the predictions."""
        self.runner.call_hook(
            'before_test_iter', batch_idx=idx, data_batch=data_batch)
        if self.session is not None:
            self.session.before_batch(idx, data_batch)
        with autocast(enabled=self.fp16):
            outputs = self.runner.model.test_step(data_batch) \
                if self.session is None else \
                self.session.predict(self.runner.model, idx, data_batch)
        self.evaluator.process(data_samples=outputs, data_batch=data_batch)
        if self.session is not None:
            self.session.after_predict(idx, outputs)
        self.runner.call_hook(
            'after_test_iter', batch_idx=idx, data_batch=data_batch,
            outputs=outputs)
