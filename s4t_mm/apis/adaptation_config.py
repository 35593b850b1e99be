"""Config surgery for test-time adaptation runs: find and seed a config's
adaptation (its ``TestTimeAdaptHook`` entry), and turn the config into the
config of one Runner whose :class:`~s4t_mm.engine.TestTimeAdaptLoop` tests
a list of domains, adapted or source-only."""
import copy
import itertools
import os.path as osp
from typing import Optional, Sequence, Union

from mmengine.config import Config

from s4t_mm.engine.hooks import TestTimeAdaptHook
from s4t_mm.engine.runner import (adaptation_settings, domain_dataloader,
                                  result_key as stored_result_key)
from s4t_mm.registry import HOOKS, PROTOCOLS
from s4t_mm.tta.protocols import (PaperProtocol, build_protocol,
                                  protocol_config)
from s4t_mm.utils import registered_class

_RUNNER_IDS = itertools.count()


def is_tta_hook(entry: dict) -> bool:
    """Whether a ``custom_hooks`` entry builds a
    :class:`~s4t_mm.engine.hooks.TestTimeAdaptHook` (or a subclass),
    however its type is spelled."""
    cls = registered_class(HOOKS, entry.get('type'))
    return cls is not None and issubclass(cls, TestTimeAdaptHook)


def is_paper_protocol(protocol: Union[str, dict, None]) -> bool:
    """Whether a protocol config builds the paper protocol (adapt on a few
    batches first, then predict the domain), however it is spelled."""
    cls = registered_class(PROTOCOLS, protocol_config(protocol).get('type'))
    return cls is not None and issubclass(cls, PaperProtocol)


def tta_hook_cfg(cfg: Config) -> Optional[dict]:
    """The TestTimeAdaptHook entry of ``custom_hooks``, if any."""
    hooks = [h for h in cfg.get('custom_hooks', []) if is_tta_hook(h)]
    if len(hooks) > 1:
        raise ValueError('custom_hooks has more than one TestTimeAdaptHook')
    return hooks[0] if hooks else None


def without_tta_hook(cfg: Config) -> Config:
    """A copy of ``cfg`` without its TestTimeAdaptHook."""
    cfg = copy.deepcopy(cfg)
    cfg.custom_hooks = [h for h in cfg.get('custom_hooks', [])
                        if not is_tta_hook(h)]
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
    if is_paper_protocol(hook.get('protocol')):
        hook['protocol'] = dict(protocol_config(hook['protocol']), seed=seed)
    return cfg


def carries_state_across_domains(cfg: Config) -> bool:
    """Whether the config's protocol carries the adapted state from one
    domain into the next (``online`` without ``reset_each_domain``), so a
    domain's result depends on the domains before it."""
    hook = tta_hook_cfg(cfg)
    return hook is not None and build_protocol(
        hook.get('protocol')).carries_state_across_domains


def result_key(cfg: Config, checkpoint: str, domain: dict,
               seed: Optional[int] = None, **extra) -> dict:
    """The key a domain's result of ``cfg`` (adapted with its seeded
    TestTimeAdaptHook, or source-only without one) is stored under, as a
    :class:`~s4t_mm.engine.TestTimeAdaptLoop` keys it
    (:func:`s4t_mm.engine.runner.result_key`; ``extra`` joins the
    settings, e.g. an analysis' own)."""
    hook = tta_hook_cfg(cfg)
    adaptation = None if hook is None else adaptation_settings(
        hook['adapter'], hook.get('protocol'), hook.get('seed', 0))
    return stored_result_key(
        domain['name'], checkpoint, seed, model=cfg.model,
        dataloader=domain_dataloader(cfg.test_dataloader, domain),
        evaluator=cfg.test_evaluator, adaptation=adaptation, **extra)


def adaptation_run_cfg(cfg: Config, domains: Sequence[dict], adapt: bool,
                       seed: int, work_dir: str, name: str,
                       results_dir: Optional[str] = None,
                       resume: bool = False) -> Config:
    """The config of one Runner that tests ``domains`` in order with a
    :class:`~s4t_mm.engine.TestTimeAdaptLoop`, the weights from
    ``cfg.load_from`` (loaded by the Runner).

    With ``adapt`` the loop adapts with the settings of the config's
    TestTimeAdaptHook, seeded with ``seed`` (:func:`with_seed`); without
    it the model is tested source-only. The hook itself leaves
    ``custom_hooks`` either way (the loop adapts). The Runner gets
    ``seed``, ``work_dir``, the experiment name ``name``, the loop
    ``results_dir``/``resume`` (its resume store), and a visualizer of its
    own (the config's, under a name no other runner of this process has),
    so what it draws lands in its own log dir: mmengine keeps one
    visualizer per name for the whole process, and a second runner asking
    for a name already taken would draw into the first one's folder.
    ``cfg`` itself is left as it is."""
    hook = tta_hook_cfg(with_seed(cfg, seed)) if adapt else None
    run_cfg = without_tta_hook(cfg)
    run_cfg.resume = False
    run_cfg.work_dir = work_dir
    run_cfg.experiment_name = name
    run_cfg.randomness = dict(seed=seed, deterministic=False)
    # relative to work_dir: mmengine formats the Runner's config (yapf)
    # several times per run, and a long path string nested in it costs
    # about half a second each time
    loop = dict(run_cfg.get('test_cfg') or {},
                type='s4t_mm.TestTimeAdaptLoop', domains=list(domains),
                results_dir=None if results_dir is None else
                osp.relpath(results_dir, work_dir), resume=resume)
    if hook is not None:
        loop.update(adapter=hook['adapter'], protocol=hook.get('protocol'),
                    seed=hook['seed'])
    run_cfg.test_cfg = loop
    visualizer = run_cfg.get('visualizer') or dict(
        type='Visualizer', vis_backends=[dict(type='LocalVisBackend')])
    if isinstance(visualizer, dict):
        run_cfg.visualizer = dict(
            visualizer, name=f'{name}_visualizer_{next(_RUNNER_IDS)}')
    return run_cfg
