"""Evaluate a checkpoint source-only and with test-time adaptation on a list
of target domains; the engine behind ``tools/test_time_adapt.py`` and
``tools/compare_methods.py``.

Two guarantees the tools build on:

- every finished domain's result can be kept in its own JSON file
  (:class:`DomainResults`), written atomically as the run goes, so a killed
  run resumes where it stopped and ends with the same results;
- a domain whose adaptation diverged (a non-finite loss, gradient,
  parameter, statistic or prediction during adaptation, or a key metric
  that is not finite or exploded) is marked ``diverged`` by
  :func:`summarize`, with the reasons, and left out of means.
"""
import copy
import hashlib
import itertools
import json
import math
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence
from urllib.parse import quote

import numpy as np
from mmengine.config import Config, ConfigDict
from mmengine.dist import is_main_process
from mmengine.logging import print_log
from mmengine.runner import Runner

from s4t_mm.fileio import load_model_checkpoint
from s4t_mm.evaluation.multi_task_gain import delta_m, delta_m_keys
from s4t_mm.tta.adapters.base_adapter import FAILURE_COUNTERS
from s4t_mm.tta.protocols import (OnlineProtocol, build_protocol,
                                  protocol_config)
from s4t_mm.utils import dump_json_atomic, json_ready, unwrap_model

#: An adapted key metric more than this many times the source-only one (in
#: absolute value, the source floored at 1) has exploded: the domain is
#: marked diverged even when every number is finite.
EXPLOSION_RATIO = 1e3

TTA_HOOK_TYPES = ('TestTimeAdaptHook', 's4t_mm.TestTimeAdaptHook')

_RUNNER_IDS = itertools.count()


def tta_hook_cfg(cfg: Config) -> Optional[dict]:
    """The TestTimeAdaptHook entry of ``custom_hooks``, if any."""
    hooks = [h for h in cfg.get('custom_hooks', [])
             if h.get('type') in TTA_HOOK_TYPES]
    if len(hooks) > 1:
        raise ValueError('custom_hooks has more than one TestTimeAdaptHook')
    return hooks[0] if hooks else None


def without_tta_hook(cfg: Config) -> Config:
    cfg = copy.deepcopy(cfg)
    cfg.custom_hooks = [h for h in cfg.get('custom_hooks', [])
                        if h.get('type') not in TTA_HOOK_TYPES]
    return cfg


def with_seed(cfg: Config, seed: int) -> Config:
    """A copy of ``cfg`` whose adaptation draws depend on ``seed``: the
    TestTimeAdaptHook's seed (random masks etc.) and, for the paper
    protocol, which target images form the adaptation batch. The Runner's
    own seed alone leaves both fixed."""
    cfg = copy.deepcopy(cfg)
    hook = tta_hook_cfg(cfg)
    if hook is None:
        raise ValueError('the config has no TestTimeAdaptHook in '
                         'custom_hooks; there is no adaptation to seed')
    hook['seed'] = seed
    if protocol_config(hook.get('protocol'))['type'] == 'paper':
        hook['protocol'] = dict(protocol_config(hook['protocol']), seed=seed)
    return cfg


def domain_dataloader(cfg: Config, domain: dict) -> ConfigDict:
    """The test dataloader of one target domain.

    ``domain`` is an entry of ``cfg.target_domains``: ``name``, optional
    ``dataset`` (keys merged into the test dataset config) and optional
    ``corruption`` (``dict(corruption=..., severity=...)``, inserted as an
    ``ImageCorruption`` transform just before the packing transform).
    """
    loader = copy.deepcopy(cfg.test_dataloader)
    loader.dataset.update(domain.get('dataset', {}))
    corruption = domain.get('corruption')
    if corruption is not None:
        pipeline = list(loader.dataset.pipeline)
        pack = next((i for i, t in enumerate(pipeline)
                     if 'Pack' in t['type']), len(pipeline))
        pipeline.insert(pack, dict(type='ImageCorruption', **corruption))
        loader.dataset.pipeline = pipeline
    return loader


def whole_batches_per_rank(loader: ConfigDict) -> ConfigDict:
    """``loader`` with mmengine's ``DefaultSampler`` replaced by
    :class:`~s4t_mm.datasets.BatchShardSampler` (same order and shuffle):
    with several processes each rank then gets whole one-process batches,
    so adaptation on test batches, and the results, do not depend on the
    number of processes. Other samplers are kept."""
    sampler = dict(loader.get('sampler') or {})
    if sampler.get('type') not in ('DefaultSampler',
                                   'mmengine.DefaultSampler'):
        return loader
    loader = copy.deepcopy(loader)
    loader.sampler = dict(
        type='s4t_mm.BatchShardSampler', batch_size=loader.batch_size,
        shuffle=sampler.get('shuffle', True), seed=sampler.get('seed'))
    return loader


def check_domains(cfg: Config, key: str = 'target_domains') -> List[dict]:
    """The domain list ``cfg[key]``, checked for unique names."""
    domains = cfg.get(key)
    if not domains:
        raise ValueError(f'the config defines no {key}; add e.g. {key}='
                         "[dict(name='target_warm', "
                         "dataset=dict(style='target_warm'))]")
    names = [d.get('name') for d in domains]
    if None in names or len(set(names)) != len(names):
        raise ValueError(f'every target domain needs a unique name, got '
                         f'{names}')
    return list(domains)


def build_runner(run_cfg: Config, checkpoint: str, domains: Sequence[dict],
                 seed: int, work_dir: str, name: str) -> Runner:
    """A Runner for ``run_cfg`` with the checkpoint's weights loaded (after
    checking they fit the model) and no checkpoint left for it to load.

    The weights are loaded here, through mmengine's loader
    (:func:`~s4t_mm.fileio.load_model_checkpoint`), not by the
    Runner's ``load_from``: that would load inside ``runner.test()`` after
    the hooks' ``before_run``, and only warn on a mismatch.

    The runner gets a visualizer of its own (the config's, under a name no
    other runner of this process has), so what it draws lands in its own
    log dir: mmengine keeps one visualizer per name for the whole process,
    and a second runner asking for a name already taken would draw into
    the first one's folder. The hooks get ``after_load_checkpoint`` with
    the loaded checkpoint, as from the Runner's own loading.

    ``run_cfg`` itself is left as it is: :func:`evaluate_domain` builds each
    domain's loader from its test dataloader, and a first domain written
    into it would leak its dataset keys (a style, a corruption) into every
    later domain that does not set them."""
    run_cfg = copy.deepcopy(run_cfg)
    run_cfg.load_from = None
    run_cfg.resume = False
    run_cfg.work_dir = work_dir
    run_cfg.experiment_name = name
    run_cfg.randomness = dict(seed=seed, deterministic=False)
    run_cfg.test_dataloader = domain_dataloader(run_cfg, domains[0])
    run_cfg.test_cfg = dict(run_cfg.get('test_cfg') or {},
                            type='s4t_mm.MultiDomainTestLoop')
    visualizer = run_cfg.get('visualizer') or dict(
        type='Visualizer', vis_backends=[dict(type='LocalVisBackend')])
    if isinstance(visualizer, dict):
        run_cfg.visualizer = dict(
            visualizer, name=f'{name}_visualizer_{next(_RUNNER_IDS)}')
    runner = Runner.from_cfg(run_cfg)
    loaded = load_model_checkpoint(unwrap_model(runner.model), checkpoint)
    # what the Runner's own load_checkpoint tells its hooks (e.g. the
    # gated normalisation policy reads its calibration there)
    runner.call_hook('after_load_checkpoint', checkpoint=loaded)
    return runner


def evaluate_domain(runner: Runner, run_cfg: Config, domain: dict) -> dict:
    """Run the runner's test loop (:func:`build_runner`'s
    :class:`~s4t_mm.engine.MultiDomainTestLoop`) on one domain; returns its
    metrics."""
    runner.test_loop.select(
        whole_batches_per_rank(domain_dataloader(run_cfg, domain)))
    if len(runner.test_loop.dataloader.dataset) == 0:
        raise ValueError(f'target domain {domain["name"]!r} has no '
                         'samples; check its dataset settings')
    print_log(f'[{runner.experiment_name}] {domain["name"]}',
              logger='current')
    return dict(runner.test())


def carries_state_across_domains(cfg: Config) -> bool:
    """Whether the config's protocol carries the adapted state from one
    domain into the next (``online`` without ``reset_each_domain``), so a
    domain's result depends on the domains before it."""
    hook = tta_hook_cfg(cfg)
    if hook is None:
        return False
    protocol = build_protocol(hook.get('protocol'))
    return isinstance(protocol, OnlineProtocol) and \
        not protocol.reset_each_domain


_DIGESTS: Dict[tuple, str] = {}


def file_digest(path: str) -> str:
    """The SHA-256 of a file's content (cached per path, size and mtime)."""
    stat = os.stat(path)
    cache_key = (osp.abspath(path), stat.st_size, stat.st_mtime_ns)
    if cache_key not in _DIGESTS:
        digest = hashlib.sha256()
        with open(path, 'rb') as f:
            for chunk in iter(lambda: f.read(1 << 24), b''):
                digest.update(chunk)
        _DIGESTS[cache_key] = digest.hexdigest()
    return _DIGESTS[cache_key]


def _plain(obj):
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    return obj


def result_key(cfg: Config, checkpoint: str, domain: dict,
               seed: Optional[int] = None, **extra) -> dict:
    """What a domain's result depends on, to tell a stored result of this
    run from one of another: the domain, a digest of the settings (model,
    the domain's dataloader, evaluator, adaptation hook and ``extra``), the
    checkpoint's content digest and the seed (adapted runs)."""
    settings = dict(model=cfg.model,
                    dataloader=domain_dataloader(cfg, domain),
                    evaluator=cfg.test_evaluator,
                    adaptation=tta_hook_cfg(cfg), **extra)
    text = json.dumps(_plain(settings), sort_keys=True, default=repr)
    key = dict(domain=domain['name'],
               settings=hashlib.sha256(text.encode()).hexdigest()[:16],
               checkpoint=file_digest(checkpoint)[:16])
    if seed is not None:
        key['seed'] = seed
    return key


class DomainResults:
    """The finished domains of one run (source-only, or one method and
    seed): one JSON file per domain in ``root``, ``{key, result}``, written
    atomically (rank 0) as soon as the domain is done.

    Args:
        root: the run's folder.
        resume: read the results found there; otherwise every domain is
            recomputed and its file overwritten.
    """

    def __init__(self, root: str, resume: bool = False):
        self.root = root
        self.resume = resume

    def path(self, domain: str) -> str:
        return osp.join(self.root, quote(domain, safe='') + '.json')

    def load(self, domain: str, key: dict) -> Optional[dict]:
        """The stored result of ``domain``, or None; a result stored under
        another key (settings, checkpoint, seed) is an error."""
        path = self.path(domain)
        if not self.resume or not osp.isfile(path):
            return None
        with open(path) as f:
            record = json.load(f)
        stored = record.get('key', {})
        differ = sorted(k for k in set(stored) | set(key)
                        if stored.get(k) != key.get(k))
        if differ:
            raise ValueError(
                f'{path} holds the result of another run: its '
                f'{", ".join(f"{k} {stored.get(k)!r}" for k in differ)} '
                f'differ from this run\'s '
                f'{", ".join(f"{key.get(k)!r}" for k in differ)}; move it '
                'away, write to another folder, or run without --resume to '
                'recompute it')
        return record['result']

    def save(self, domain: str, key: dict, result: dict) -> dict:
        """Store ``result`` and return it as it reads back (plain JSON
        types, None for non-finite numbers)."""
        result = json_ready(result)
        if is_main_process():
            dump_json_atomic(dict(key=key, result=result), self.path(domain))
        return result


def run_domains(cfg: Config, checkpoint: str, domains: Sequence[dict],
                adapt: bool, seed: int, work_dir: str, name: str,
                results: Optional[DomainResults] = None) -> Dict[str, dict]:
    """Test the checkpoint on each domain with one Runner.

    With ``adapt`` the config's TestTimeAdaptHook stays in place, seeded
    with ``seed`` (:func:`with_seed`), and, since one runner (one model)
    walks the domains in order, an online protocol carries its state from
    domain to domain; without it the hook is removed (source-only). Returns
    ``{domain: {'metrics': ..., 'tta_stats': ..., 'tta_events': ...}}``
    (events: adapted runs only) in plain JSON types, non-finite metrics as
    None.

    With ``results`` each finished domain is stored there at once, and
    domains already stored (``results.resume``) are not run again; no
    runner is built when all are. A protocol that carries its state across
    domains needs the domains before a missing one: then the run starts
    over from the first domain.
    """
    run_cfg = with_seed(cfg, seed) if adapt else without_tta_hook(cfg)
    keys, done = {}, {}
    if results is not None:
        for domain in domains:
            keys[domain['name']] = result_key(
                run_cfg, checkpoint, domain, seed if adapt else None)
            found = results.load(domain['name'], keys[domain['name']])
            if found is not None:
                done[domain['name']] = found
    todo = [d for d in domains if d['name'] not in done]
    if done and todo and carries_state_across_domains(run_cfg):
        print_log(f'[{name}] the protocol carries the adapted state across '
                  f'domains; {len(done)} finished domain(s) are run again '
                  f'to rebuild the state {todo[0]["name"]!r} starts from',
                  logger='current')
        todo = list(domains)
    elif done:
        print_log(f'[{name}] resumed: {len(done)} of {len(domains)} '
                  f'domains already finished ({", ".join(done)})',
                  logger='current')
    if todo:
        runner = build_runner(run_cfg, checkpoint, todo, seed, work_dir,
                              name)
        for domain in todo:
            result = dict(metrics=evaluate_domain(runner, run_cfg, domain),
                          tta_stats=None)
            if adapt:
                report = runner.test_loop.report
                result.update(tta_stats=report.stats,
                              tta_events=report.events)
                for key in ('norm_weights', 'norm_scores'):
                    if getattr(report, key):
                        result[key] = getattr(report, key)
            done[domain['name']] = json_ready(result) if results is None \
                else results.save(domain['name'], keys[domain['name']],
                                  result)
    return {d['name']: done[d['name']] for d in domains}


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def failure_summary(stats: Optional[dict], events: Sequence[dict]) -> str:
    """One line on an adapted run's failures (empty when none): each kind
    with its count and steps, and where adaptation stopped."""
    stats = stats or {}
    parts = []
    for event, counter in FAILURE_COUNTERS.items():
        count = stats.get(counter, 0)
        if not count:
            continue
        steps = [e['step'] for e in events if e['event'] == event]
        where = ''
        if steps:
            listed = ', '.join(map(str, steps[:5])) + (
                ', ...' if len(steps) > 5 else '')
            where = f' at step{"s" if len(steps) > 1 else ""} {listed}'
        parts.append(f'{count} x {event.replace("_", " ")}{where}')
    stops = [e['step'] for e in events if e['action'] == 'stopped']
    if stops:
        parts.append(f'adaptation stopped at step {stops[0]}')
    return '; '.join(parts)


def bad_metrics(metrics: dict, source_metrics: dict,
                keys: Sequence[str]) -> Dict[str, str]:
    """The key metrics of an adapted run that are not finite or exploded
    (:data:`EXPLOSION_RATIO`), each with the reason."""
    bad = {}
    for key in keys:
        value, source = metrics.get(key), source_metrics.get(key)
        if not _finite(value):
            bad[key] = f'{key} is not finite'
        elif _finite(source) and \
                abs(value) > EXPLOSION_RATIO * max(abs(source), 1.0):
            bad[key] = (f'{key} {value:.3g} exploded (source-only '
                        f'{source:.3g})')
    return bad


def divergence_reasons(run: dict, source_metrics: dict,
                       keys: Sequence[str]) -> List[str]:
    """Why one adapted run of a domain counts as diverged (empty list: it
    did not): failures during adaptation (:func:`failure_summary`), key
    metrics that are not finite or exploded (:func:`bad_metrics`)."""
    failures = failure_summary(run.get('tta_stats'),
                               run.get('tta_events') or [])
    return ([failures] if failures else []) + list(
        bad_metrics(run['metrics'], source_metrics, keys).values())


def summarize(source: Dict[str, dict], adapted_runs: List[Dict[str, dict]],
              seeds: Sequence[int]) -> Dict[str, dict]:
    """Per domain: source metrics, adapted mean/std over seeds, delta_m.

    A domain is ``diverged`` when any seed's adaptation diverged
    (:func:`divergence_reasons`) or a source-only key metric is not finite;
    ``divergence`` lists why. Such a domain has no ``delta_m`` (None), and
    its not finite or exploded means are None; the per-seed values stay for
    diagnosis (non-finite ones as None).
    """
    summary = {}
    for domain, src in source.items():
        src_metrics = json_ready(src['metrics'])
        runs = [json_ready(run[domain]) for run in adapted_runs]
        per_seed = [run['metrics'] for run in runs]
        keys = delta_m_keys(per_seed[0], src_metrics)
        reasons = [f'source-only {k} is not finite' for k in keys
                   if not _finite(src_metrics.get(k))]
        bad_keys = set()
        for seed, run in zip(seeds, runs):
            reasons += [f'seed {seed}: {r}' for r in
                        divergence_reasons(run, src_metrics, keys)]
            bad_keys |= set(bad_metrics(run['metrics'], src_metrics, keys))
        deltas = [
            delta_m(m, src_metrics, keys) if all(
                _finite(m.get(k)) and _finite(src_metrics.get(k))
                for k in keys) else None for m in per_seed
        ]
        diverged = bool(reasons)

        def stat(fn, key):
            values = [m.get(key) for m in per_seed]
            if key in bad_keys or not all(_finite(v) for v in values):
                return None
            return float(fn(values))

        names = sorted(per_seed[0])
        summary[domain] = json_ready(dict(
            source=src_metrics,
            adapted={k: stat(np.mean, k) for k in names},
            adapted_std={k: stat(np.std, k) for k in names},
            adapted_per_seed=dict(zip(map(str, seeds), per_seed)),
            delta_m=None if diverged else float(np.mean(deltas)),
            delta_m_std=None if diverged else float(np.std(deltas)),
            delta_m_per_seed=deltas,
            diverged=diverged,
            divergence=reasons,
            tta_stats=[run.get('tta_stats') for run in runs],
            tta_events=[run.get('tta_events') or [] for run in runs]))
    return summary


def _value(value, missing: str = 'diverged') -> str:
    return missing if value is None else f'{value:.3f}'


def format_table(summary: Dict[str, dict], keys: Sequence[str]) -> str:
    """A markdown table: one row per domain, source -> adapted per metric;
    a diverged domain reads ``diverged`` where it has no number."""
    header = ['domain'] + list(keys) + ['delta_m (%)']
    lines = ['| ' + ' | '.join(header) + ' |',
             '|' + '---|' * len(header)]
    for domain, s in summary.items():
        cells = [domain]
        for k in keys:
            if k in s['source']:
                adapted = s['adapted'][k]
                cells.append(
                    f'{_value(s["source"][k], "not finite")} -> ' +
                    ('diverged' if adapted is None else
                     f'{adapted:.3f} ± {_value(s["adapted_std"][k])}'))
            else:
                cells.append('-')
        cells.append('diverged' if s.get('diverged') else
                     f'{s["delta_m"]:+.2f} ± {s["delta_m_std"]:.2f}')
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def divergence_note(summary: Dict[str, dict]) -> str:
    """Lines naming each diverged domain and why (empty when none)."""
    return '\n'.join(
        f'- {domain}: diverged, left out of the mean ('
        f'{"; ".join(s["divergence"])})'
        for domain, s in summary.items() if s.get('diverged'))
