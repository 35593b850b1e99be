"""The domain runner of s4t_mm.apis.adaptation: one runner, many domains."""
import copy

import pytest

from s4t_mm.apis.adaptation import build_runner, run_domains
from s4t_mm.utils import register_all_modules
from ..test_tta.tiny_runner import save_tiny_checkpoint, tiny_tta_cfg

# The first domain sets a style and a corruption; the second sets neither,
# so it must see the base config's style and no corruption.
FIRST = dict(name='cool_fog', dataset=dict(style='target_cool'),
             corruption=dict(corruption='fog', severity=3))
SECOND = dict(name='hall', dataset=dict(geometry='hall'))


@pytest.fixture(scope='module')
def ckpt(tmp_path_factory):
    register_all_modules(init_default_scope=False)
    return save_tiny_checkpoint(tmp_path_factory.mktemp('ckpt') / 'w.pth')


def test_build_runner_leaves_the_config_alone(tmp_path, ckpt):
    cfg = tiny_tta_cfg(tmp_path, tmp_path / 'cache')
    before = copy.deepcopy(cfg.to_dict())
    build_runner(cfg, ckpt, [FIRST, SECOND], True, 0, str(tmp_path),
                 'leave')
    assert cfg.to_dict() == before


def test_each_runner_draws_into_its_own_log_dir(tmp_path, ckpt):
    """mmengine keeps one visualizer per name for the process; two runners
    of one name must still not share one (nor its save dir)."""
    cfg = tiny_tta_cfg(tmp_path, tmp_path / 'cache')
    cfg.visualizer = dict(type='MultiTaskVisualizer', name='visualizer',
                          vis_backends=[dict(type='LocalVisBackend')])
    first, second = (build_runner(cfg, ckpt, [FIRST], False, 0,
                                  str(tmp_path / d), 'same')
                     for d in ('a', 'b'))
    assert first.visualizer is not second.visualizer
    assert type(second.visualizer).__name__ == 'MultiTaskVisualizer'
    backend = second.visualizer.get_backend('LocalVisBackend')
    assert backend._save_dir.startswith(str(tmp_path / 'b'))


def test_a_domain_does_not_inherit_the_previous_domains_settings(
        tmp_path, ckpt):
    cfg = tiny_tta_cfg(tmp_path, tmp_path / 'cache')
    both = run_domains(cfg, ckpt, [FIRST, SECOND], adapt=False, seed=0,
                       work_dir=str(tmp_path), name='both')
    alone = run_domains(cfg, ckpt, [SECOND], adapt=False, seed=0,
                        work_dir=str(tmp_path), name='alone')
    assert both['hall']['metrics'] == alone['hall']['metrics']
    # the two domains really differ, so equality above is not vacuous
    assert both['cool_fog']['metrics'] != alone['hall']['metrics']


def test_the_hook_is_found_by_class_and_moved_into_the_loop(tmp_path):
    """However the adaptation hook's type is spelled, the run's config has
    its settings, seeded, in a TestTimeAdaptLoop and no hook left."""
    from s4t_mm.apis import adaptation_run_cfg, tta_hook_cfg
    from s4t_mm.engine.hooks import TestTimeAdaptHook
    sync = dict(type='TaskSyncHook')
    for spelling in ('TestTimeAdaptHook', 's4t_mm.TestTimeAdaptHook',
                     TestTimeAdaptHook):
        cfg = tiny_tta_cfg(tmp_path, tmp_path / 'cache', extra_hooks=[sync])
        cfg.custom_hooks[0]['type'] = spelling
        adapter = cfg.custom_hooks[0]['adapter']
        assert tta_hook_cfg(cfg) is cfg.custom_hooks[0]
        run = adaptation_run_cfg(cfg, [FIRST], True, 3, str(tmp_path), 'a')
        assert run.custom_hooks == [sync]
        assert run.test_cfg == dict(
            type='s4t_mm.TestTimeAdaptLoop', domains=[FIRST],
            results_dir=None, resume=False, adapter=adapter,
            protocol=dict(type='paper', steps=4, num_batches=1, seed=3),
            seed=3)
        source = adaptation_run_cfg(cfg, [FIRST], False, 3, str(tmp_path),
                                    's')
        assert source.custom_hooks == [sync]
        assert 'adapter' not in source.test_cfg
