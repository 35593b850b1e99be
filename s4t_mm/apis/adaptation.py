"""Evaluate a checkpoint source-only and with test-time adaptation on a list
of target domains; the engine behind ``tools/test_time_adapt.py`` and
``tools/compare_methods.py``."""
import copy
from typing import Dict, List, Optional, Sequence

import numpy as np
from mmengine.config import Config, ConfigDict
from mmengine.logging import print_log
from mmengine.runner import Runner, TestLoop

from s4t_mm.engine.checkpoint import load_model_weights
from s4t_mm.evaluation.functional import delta_m
from s4t_mm.utils import unwrap_model

TTA_HOOK_TYPES = ('TestTimeAdaptHook', 's4t_mm.TestTimeAdaptHook')


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
    protocol = hook.get('protocol')
    if isinstance(protocol, dict) and protocol.get('type') == 'paper':
        protocol['seed'] = seed
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
    checking they fit the model) and no checkpoint left for it to load."""
    run_cfg.load_from = None
    run_cfg.resume = False
    run_cfg.work_dir = work_dir
    run_cfg.experiment_name = name
    run_cfg.randomness = dict(seed=seed, deterministic=False)
    run_cfg.test_dataloader = domain_dataloader(run_cfg, domains[0])
    runner = Runner.from_cfg(run_cfg)
    load_model_weights(unwrap_model(runner.model), checkpoint)
    return runner


def evaluate_domain(runner: Runner, run_cfg: Config, domain: dict) -> dict:
    """Run the runner's test loop on one domain; returns its metrics."""
    loader = domain_dataloader(run_cfg, domain)
    runner._test_loop = TestLoop(runner, loader, run_cfg.test_evaluator)
    if len(runner.test_loop.dataloader.dataset) == 0:
        raise ValueError(f'target domain {domain["name"]!r} has no '
                         'samples; check its dataset settings')
    print_log(f'[{runner.experiment_name}] {domain["name"]}',
              logger='current')
    return dict(runner.test())


def run_domains(cfg: Config, checkpoint: str, domains: Sequence[dict],
                adapt: bool, seed: int, work_dir: str,
                name: str) -> Dict[str, dict]:
    """Test the checkpoint on each domain with one Runner.

    With ``adapt`` the config's TestTimeAdaptHook stays in place, seeded
    with ``seed`` (:func:`with_seed`), and, since one runner (one model)
    walks the domains in order, an online protocol carries its state from
    domain to domain; without it the hook is removed (source-only). Returns
    ``{domain: {'metrics': ..., 'tta_stats': ...}}``.
    """
    run_cfg = with_seed(cfg, seed) if adapt else without_tta_hook(cfg)
    runner = build_runner(run_cfg, checkpoint, domains, seed, work_dir, name)
    results = {}
    for domain in domains:
        metrics = evaluate_domain(runner, run_cfg, domain)
        stats = runner.message_hub.get_info('tta_stats') if adapt else None
        results[domain['name']] = dict(metrics=metrics, tta_stats=stats)
    return results


def summarize(source: Dict[str, dict], adapted_runs: List[Dict[str, dict]],
              seeds: Sequence[int]) -> Dict[str, dict]:
    """Per domain: source metrics, adapted mean/std over seeds, delta_m."""
    summary = {}
    for domain, src in source.items():
        per_seed = [run[domain]['metrics'] for run in adapted_runs]
        deltas = [delta_m(m, src['metrics']) for m in per_seed]
        keys = sorted(per_seed[0])
        summary[domain] = dict(
            source=src['metrics'],
            adapted={k: float(np.mean([m[k] for m in per_seed]))
                     for k in keys},
            adapted_std={k: float(np.std([m[k] for m in per_seed]))
                         for k in keys},
            adapted_per_seed=dict(zip(map(str, seeds), per_seed)),
            delta_m=float(np.mean(deltas)),
            delta_m_std=float(np.std(deltas)),
            delta_m_per_seed=deltas,
            tta_stats=[run[domain]['tta_stats'] for run in adapted_runs])
    return summary


def format_table(summary: Dict[str, dict], keys: Sequence[str]) -> str:
    """A markdown table: one row per domain, source -> adapted per metric."""
    header = ['domain'] + list(keys) + ['delta_m (%)']
    lines = ['| ' + ' | '.join(header) + ' |',
             '|' + '---|' * len(header)]
    for domain, s in summary.items():
        cells = [domain]
        for k in keys:
            if k in s['source']:
                cells.append(f'{s["source"][k]:.3f} -> {s["adapted"][k]:.3f}'
                             f' ± {s["adapted_std"][k]:.3f}')
            else:
                cells.append('-')
        cells.append(f'{s["delta_m"]:+.2f} ± {s["delta_m_std"]:.2f}')
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)
