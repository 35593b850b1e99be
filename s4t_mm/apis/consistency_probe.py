"""Does the cross-task consistency energy tell helpful from harmful
adaptation? The engine behind ``tools/analysis_tools/probe_consistency.py``.

For every domain and seed of a method table (a benchmark table, see
:mod:`.benchmark`), on the paper protocol's adaptation batch: the
consistency energy (:mod:`s4t_mm.evaluation.cross_task_consistency`) of the
model's predictions in the source state and in each method's adapted
state, standardised per path on a source reference set (the table's
``consistency_reference`` domain, the source model in its source state),
beside each method's delta_m against source-only on the whole domain (the
benchmark's own numbers, run first and resumable). The energy reads no
label; delta_m is read only to judge it.
"""
import copy
import json
import os.path as osp
from typing import Dict, List, Optional, Sequence

import torch
from mmengine.config import Config
from mmengine.runner import Runner
from scipy.stats import spearmanr

from s4t_mm.engine.runner import check_domains, domain_dataloader
from s4t_mm.evaluation.cross_task_consistency import (CONSISTENCY_PATHS,
                                                      consistency_energy,
                                                      consistency_losses,
                                                      path_statistics)
from s4t_mm.fileio import atomic_write_bytes, load_model_checkpoint
from s4t_mm.registry import MODELS
from s4t_mm.structures import without_ground_truth
from s4t_mm.utils import dump_json_atomic
from .benchmark import run_benchmark, source_checkpoint
from .diagnosis import diagnosis_session

SOURCE_STATE = 'source'


def prediction_losses(model, batch: dict,
                      paths: Sequence[str] = CONSISTENCY_PATHS
                      ) -> Dict[str, torch.Tensor]:
    """Each consistency path's loss per image ``(N,)`` of the model's
    predictions on a batch, in the model's current state (evaluation mode,
    no gradient). Ground truth is stripped before preprocessing; each image
    is read at its unpadded ``img_shape`` with its ``cam2img``."""
    batch = dict(batch, data_samples=[without_ground_truth(s)
                                      for s in batch['data_samples']])
    model.eval()
    with torch.no_grad():
        data = model.data_preprocessor(batch, training=False)
        outputs = model.activated_outputs(model(data['inputs'],
                                                mode='tensor'))
    per_image = []
    for i, sample in enumerate(data['data_samples']):
        h, w = sample.metainfo.get('img_shape', data['inputs'].shape[2:])[:2]
        one = {task: x[i:i + 1, :, :h, :w] for task, x in outputs.items()}
        per_image.append(consistency_losses(
            one, sample.metainfo.get('cam2img'), paths))
    return {p: torch.cat([losses[p] for losses in per_image])
            for p in paths}


def reference_statistics(cfg: Config, model, reference: dict,
                         paths: Sequence[str] = CONSISTENCY_PATHS
                         ) -> Dict[str, tuple]:
    """``{path: (mean, MAD)}`` of the per-image losses of ``model`` (in its
    current state: the source's) on the ``reference`` domain."""
    loader = Runner.build_dataloader(
        domain_dataloader(cfg.test_dataloader, reference))
    losses = [prediction_losses(model, batch, paths) for batch in loader]
    return path_statistics({p: torch.cat([b[p] for b in losses])
                            for p in paths})


def _state_record(losses: Dict[str, torch.Tensor],
                  stats: Dict[str, tuple]) -> dict:
    return dict(energy=float(consistency_energy(losses, stats).mean()),
                losses={p: float(v.nanmean()) for p, v in losses.items()})


def probe_domain(cfg: Config, models: Dict[str, object], sessions: dict,
                 domain: dict, stats: Dict[str, tuple],
                 paths: Sequence[str]) -> dict:
    """The energy of the source state and of every method's adapted state
    on one domain's adaptation batch (the sessions' paper protocol, one
    seed). Every model is left in its source state."""
    loader = Runner.build_dataloader(
        domain_dataloader(cfg.test_dataloader, domain))
    record = {}
    for name, session in sessions.items():
        batch = next(iter(session.protocol.adaptation_batches(loader)))
        if SOURCE_STATE not in record:
            session.adapter.reset()
            record[SOURCE_STATE] = _state_record(
                prediction_losses(models[name], batch, paths), stats)
        session.begin_domain(loader)  # the paper protocol adapts here
        record[name] = _state_record(
            prediction_losses(models[name], batch, paths), stats)
        session.adapter.reset()
    return record


def consistency_probe(table: Config, work_dir: str,
                      names: Optional[Sequence[str]] = None,
                      seeds: Optional[Sequence[int]] = None,
                      domains_key: Optional[str] = None,
                      paths: Sequence[str] = CONSISTENCY_PATHS) -> dict:
    """The probe over the table's methods (or ``names``), seeds and
    domains; writes ``work_dir/consistency_probe.json`` and ``.md``.

    Returns ``dict(paths, reference, domains, seeds, methods, records)``:
    ``records[domain][seed]`` holds per state (``'source'`` and each
    method) ``energy`` (the batch mean) and each path's mean ``losses``,
    and per method its ``delta_m`` from the benchmark."""
    names = list(names or table.methods)
    seeds = list(seeds or table.seeds)
    domains_key = domains_key or table.domains_key
    domains = check_domains(table, domains_key)
    reference = table.get('consistency_reference')
    if reference is None:
        raise KeyError('the table defines no consistency_reference: the '
                       'source-style domain whose images standardise the '
                       "energy, e.g. dict(name='reference', dataset=dict("
                       "split='val'))")
    run_benchmark(table, work_dir, names, seeds, domains_key, sync=False)
    with open(osp.join(work_dir, 'comparison.json')) as f:
        compared = json.load(f)
    ckpt = source_checkpoint(table)
    configs = {n: Config.fromfile(osp.join(work_dir, 'configs', f'{n}.py'))
               for n in names}
    cfg = configs[names[0]]
    models, loaded = {}, None
    for name in names:
        models[name] = MODELS.build(copy.deepcopy(cfg.model))
        loaded = load_model_checkpoint(models[name], ckpt)
    stats = reference_statistics(cfg, models[names[0]], reference, paths)
    records = {}
    for seed in seeds:
        sessions = {}
        for name in names:
            sessions[name] = diagnosis_session(configs[name], seed)
            # a policy reads its calibration before it binds
            sessions[name].after_load_checkpoint(loaded)
            sessions[name].bind(models[name])
        for i, domain in enumerate(domains):
            record = probe_domain(cfg, models, sessions, domain, stats,
                                  paths)
            for name in names:
                record[name]['delta_m'] = compared['methods'][name][
                    'summary'][domain['name']]['delta_m_per_seed'][
                        compared['seeds'].index(seed)]
            records.setdefault(domain['name'], {})[seed] = record
    result = dict(paths=list(paths), reference=stats,
                  domains=[d['name'] for d in domains], seeds=seeds,
                  methods=names, checkpoint=ckpt, records=records)
    dump_json_atomic(result, osp.join(work_dir, 'consistency_probe.json'))
    atomic_write_bytes(probe_report(result).encode(),
                       osp.join(work_dir, 'consistency_probe.md'))
    return result


def _spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman's rho (ties share their mean rank); NaN below 3 pairs."""
    if len(x) < 3:
        return float('nan')
    return float(spearmanr(x, y)[0])


def probe_summary(result: dict, method: str) -> dict:
    """For one method against source-only, over every domain and seed:
    how often the sign of the energy change (adapted minus source: below 0
    says adapt) matches the sign of delta_m, with each path alone too;
    the Spearman correlation of the change with delta_m; the pairs where
    the energy says adapt and delta_m is below -1 %."""
    pairs = [(d, s, r) for d, by_seed in result['records'].items()
             for s, r in by_seed.items()]

    def change(r, key=None):
        if key is None:
            return r[method]['energy'] - r[SOURCE_STATE]['energy']
        return r[method]['losses'][key] - r[SOURCE_STATE]['losses'][key]

    truth = [r[method]['delta_m'] for _, _, r in pairs]
    summary = dict(pairs=len(pairs))
    for key in [None] + list(result['paths']):
        changes = [change(r, key) for _, _, r in pairs]
        right = sum((c < 0) == (t > 0) for c, t in zip(changes, truth))
        summary[key or 'energy'] = dict(right=right,
                                        spearman=_spearman(changes, truth))
    summary['harmful_chosen'] = [
        f'{d} seed {s} ({r[method]["delta_m"]:+.2f})' for d, s, r in pairs
        if change(r) < 0 and r[method]['delta_m'] < -1]
    return summary


def selection(result: dict) -> List[dict]:
    """Per domain and seed: the state of lowest energy among source-only
    and the methods, its delta_m, and the best delta_m (the oracle's)."""
    rows = []
    for domain, by_seed in result['records'].items():
        for seed, record in by_seed.items():
            states = [SOURCE_STATE] + list(result['methods'])
            delta = {s: 0.0 if s == SOURCE_STATE else record[s]['delta_m']
                     for s in states}
            chosen = min(states, key=lambda s: record[s]['energy'])
            best = max(states, key=lambda s: delta[s])
            rows.append(dict(domain=domain, seed=seed, chosen=chosen,
                             delta_m=delta[chosen], oracle=best,
                             oracle_delta_m=delta[best]))
    return rows


def probe_report(result: dict) -> str:
    """Markdown: per domain and seed every state's energy (each path's
    loss) and delta_m; per method the sign agreement and correlation; the
    lowest-energy selection against the oracle."""
    states = [SOURCE_STATE] + result['methods']
    lines = ['| domain | seed | ' + ' | '.join(
        f'{s} E ({", ".join(result["paths"])})' for s in states) +
        ' | ' + ' | '.join(f'{m} delta_m' for m in result['methods']) +
        ' |', '|' + '---|' * (2 + len(states) + len(result['methods']))]
    for domain, by_seed in result['records'].items():
        for seed, r in by_seed.items():
            cells = [f'{r[s]["energy"]:+.2f} (' + ', '.join(
                f'{r[s]["losses"][p]:.3f}' for p in result['paths']) + ')'
                for s in states]
            cells += [f'{r[m]["delta_m"]:+.2f}' for m in result['methods']]
            lines.append(f'| {domain} | {seed} | ' + ' | '.join(cells) +
                         ' |')
    lines += ['', '| method | pairs | ' + ' | '.join(
        f'{k}: right sign, Spearman' for k in ['energy'] + result['paths']) +
        ' | energy says adapt, delta_m < -1 % |',
        '|' + '---|' * (3 + len(result['paths']) + 1)]
    for method in result['methods']:
        s = probe_summary(result, method)
        cells = [f'{s[k]["right"]}/{s["pairs"]}, {s[k]["spearman"]:+.2f}'
                 for k in ['energy'] + result['paths']]
        lines.append(f'| {method} | {s["pairs"]} | ' + ' | '.join(cells) +
                     f' | {", ".join(s["harmful_chosen"]) or "none"} |')
    lines += ['', '| domain | seed | lowest energy | its delta_m | oracle |'
              ' oracle delta_m |', '|---|---|---|---|---|---|']
    for row in selection(result):
        lines.append(f'| {row["domain"]} | {row["seed"]} | {row["chosen"]} '
                     f'| {row["delta_m"]:+.2f} | {row["oracle"]} | '
                     f'{row["oracle_delta_m"]:+.2f} |')
    return '\n'.join(lines) + '\n'
