"""TestTimeAdaptLoop: one Runner walks several target domains, the weights
arrive through the Runner, and the report comes back from
``runner.test()``."""
import copy

import pytest
import torch
from mmengine.runner import Runner

from s4t_mm import engine
from s4t_mm.apis import domain_dataloader
from s4t_mm.engine import DomainReport
from s4t_mm.fileio import CheckpointMismatchError
from s4t_mm.registry import MODELS
from ..test_models.utils import tiny_heads, tiny_model_cfg
from ..test_tta.tiny_runner import TARGETS, save_tiny_checkpoint, tiny_tta_cfg

S4T = dict(type='S4TAdapter', optimizer=dict(type='SGD', lr=0.05))


@pytest.fixture(scope='module')
def ckpt(tmp_path_factory):
    return save_tiny_checkpoint(tmp_path_factory.mktemp('ckpt') / 'w.pth')


def _cfg(tmp_path, ckpt, name='loop', **loop):
    cfg = tiny_tta_cfg(tmp_path / name, tmp_path / 'cache', num_samples=4)
    cfg.custom_hooks = []
    cfg.test_cfg = dict(type='TestTimeAdaptLoop', **loop)
    cfg.load_from = ckpt
    return cfg


@pytest.fixture
def built_loaders(monkeypatch):
    """The dataset style of every dataloader a Runner builds from now on."""
    styles, build = [], Runner.build_dataloader

    def counted(dataloader, *args, **kwargs):
        styles.append(dataloader['dataset']['style'])
        return build(dataloader, *args, **kwargs)

    monkeypatch.setattr(Runner, 'build_dataloader', staticmethod(counted))
    return styles


def test_each_domain_scores_as_its_own_runner_would(tmp_path, ckpt,
                                                    built_loaders):
    runner = Runner.from_cfg(_cfg(tmp_path, ckpt, domains=TARGETS))
    report = runner.test()
    assert isinstance(runner.test_loop, engine.TestTimeAdaptLoop)
    assert isinstance(report, engine.TestTimeAdaptReport)
    assert list(report.domains) == ['warm', 'cool'] and not report.resumed
    assert all(r.adaptation is None for r in report.domains.values())
    # each domain's loader is built once, in the domains' order
    assert built_loaders == ['target_warm', 'target_cool']
    assert report.domains['warm'].metrics != report.domains['cool'].metrics
    # a plain TestLoop on the cool domain alone, the same checkpoint
    alone = _cfg(tmp_path, ckpt, 'alone')
    alone.test_cfg = dict(type='TestLoop')
    alone.test_dataloader = domain_dataloader(alone.test_dataloader,
                                              TARGETS[1])
    assert dict(Runner.from_cfg(alone).test()) == \
        report.domains['cool'].metrics


def test_the_session_binds_to_the_weights_the_runner_loaded(tmp_path, ckpt):
    """The Runner loads ``load_from`` inside ``test()``, after the loop is
    built; the session snapshots the loaded weights, so a reset restores
    the checkpoint, not the random initialisation."""
    runner = Runner.from_cfg(_cfg(
        tmp_path, ckpt, domains=TARGETS[:1], adapter=S4T,
        protocol=dict(type='episodic', steps=2)))
    report = runner.test().domains['warm']
    adaptation = report.adaptation
    assert adaptation.steps == 2 * 1 and adaptation.stats['resets'] == 1
    # the report as stored, and read back
    stored = report.to_dict()
    assert set(stored) == {'metrics', 'tta_stats', 'tta_events'}
    assert stored['tta_stats'] == adaptation.stats
    assert DomainReport.from_dict(copy.deepcopy(stored)) == report
    source = DomainReport(dict(report.metrics))
    assert source.to_dict() == dict(metrics=report.metrics, tta_stats=None)
    assert DomainReport.from_dict(source.to_dict()) == source
    source = torch.load(ckpt)['state_dict']
    state = runner.model.state_dict()
    assert not torch.equal(state['backbone.stem.0.weight'],
                           source['backbone.stem.0.weight'])
    runner.test_loop.session.adapter.reset()
    state = runner.model.state_dict()
    assert all(torch.equal(state[k], v) for k, v in source.items())


def test_a_checkpoint_of_another_model_is_an_error(tmp_path):
    """mmengine's Runner only warns when ``load_from`` does not fit; the
    loop refuses it, naming the tensor and both shapes."""
    torch.manual_seed(0)
    other = MODELS.build(tiny_model_cfg(relation=True, heads=tiny_heads(3)))
    path = str(tmp_path / 'three_classes.pth')
    torch.save(dict(state_dict=other.state_dict(), meta={}), path)
    runner = Runner.from_cfg(_cfg(tmp_path, path, domains=TARGETS[:1]))
    with pytest.raises(CheckpointMismatchError,
                       match=r'heads\.semseg\.conv_out\.weight: checkpoint '
                       r'\(3, .*the config asks for 6'):
        runner.test()


def test_the_calibration_reaches_the_policy_through_the_runner(tmp_path,
                                                               ckpt):
    """The gated policy reads its calibration in ``after_load_checkpoint``,
    which only the Runner's own loading sends: an uncalibrated checkpoint
    is refused there, with the tool that calibrates it."""
    gated = dict(S4T, norm_policy=dict(type='gated', threshold=3.0))
    runner = Runner.from_cfg(_cfg(tmp_path, ckpt, domains=TARGETS[:1],
                                  adapter=gated, protocol='paper'))
    with pytest.raises(KeyError, match='calibrate_norm_stats'):
        runner.test()


def test_a_resumed_run_reads_its_domains_and_builds_nothing(
        tmp_path, ckpt, built_loaders):
    store = str(tmp_path / 'store')
    loop = dict(domains=TARGETS, adapter=S4T, protocol=dict(
        type='paper', steps=2, num_batches=1, seed=0), seed=3,
        results_dir=store)
    first = Runner.from_cfg(_cfg(tmp_path, ckpt, 'first', **loop)).test()
    assert sorted(p.name for p in (tmp_path / 'store').iterdir()) == [
        'cool.json', 'warm.json']
    again = _cfg(tmp_path, ckpt, 'again', resume=True, **loop)
    built_loaders.clear()
    stored = engine.TestTimeAdaptLoop.stored_report(again)
    assert built_loaders == []
    assert stored.resumed == ['warm', 'cool']
    assert stored.to_dict() == first.to_dict()
    # a Runner of the same config runs nothing either
    resumed = Runner.from_cfg(again).test()
    assert resumed.to_dict() == first.to_dict()
    assert resumed.resumed == ['warm', 'cool']
    # another seed is another run: its results are not taken for this one
    with pytest.raises(ValueError, match='holds the result of another run'):
        engine.TestTimeAdaptLoop.stored_report(
            _cfg(tmp_path, ckpt, 'seed4', resume=True, **dict(loop, seed=4)))


def test_the_hook_and_the_loop_do_not_both_adapt(tmp_path, ckpt):
    cfg = tiny_tta_cfg(tmp_path / 'both', tmp_path / 'cache', num_samples=4)
    cfg.test_cfg = dict(type='TestTimeAdaptLoop', domains=TARGETS[:1],
                        adapter=S4T)
    cfg.load_from = ckpt
    with pytest.raises(ValueError, match='drop TestTimeAdaptHook'):
        Runner.from_cfg(cfg).test()
