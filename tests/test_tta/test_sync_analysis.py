"""Task-synchronisation diagnostics: best steps, plots, the analysing hook
and the analysis driver."""
import pytest
import torch
from mmengine.runner import Runner

from s4t_mm.apis import adaptation_run_cfg, with_seed
from s4t_mm.apis.sync_analysis import run_sync_analysis
from s4t_mm.engine.hooks.task_sync_hook import TaskSyncHook
from s4t_mm.evaluation.task_sync import (best_steps, relative_improvement,
                                         sync_report, task_losses)
from s4t_mm.visualization.sync_plots import plot_sync
from .tiny_runner import TARGETS, save_tiny_checkpoint, tiny_tta_cfg

STEPS = [0, 5, 10, 15, 20]
# mIoU peaks at 10, depth RMSE at 5, normals keep improving, the edge error
# ties at 5 and 10 (the earlier step counts)
SEQUENCE = [
    {'semseg/mIoU': 40.0, 'depth/rmse': 1.00, 'normals/mean': 30.0,
     'edge/l1': 0.10},
    {'semseg/mIoU': 42.0, 'depth/rmse': 0.90, 'normals/mean': 29.0,
     'edge/l1': 0.08},
    {'semseg/mIoU': 45.0, 'depth/rmse': 0.95, 'normals/mean': 28.0,
     'edge/l1': 0.08},
    {'semseg/mIoU': 44.0, 'depth/rmse': 0.97, 'normals/mean': 27.0,
     'edge/l1': 0.09},
    {'semseg/mIoU': 43.0, 'depth/rmse': 1.10, 'normals/mean': 26.0,
     'edge/l1': 0.10},
]


def test_best_steps_and_spread_of_a_hand_made_sequence():
    keys = ['semseg/mIoU', 'depth/rmse', 'normals/mean', 'edge/l1']
    assert best_steps(STEPS, SEQUENCE, keys) == {
        'semseg/mIoU': 10, 'depth/rmse': 5, 'normals/mean': 20,
        'edge/l1': 5}
    # within 4 points of the best: earlier steps for mIoU and normals
    assert best_steps(STEPS, SEQUENCE, keys, tolerance=4) == {
        'semseg/mIoU': 10, 'depth/rmse': 5, 'normals/mean': 15,
        'edge/l1': 5}
    assert best_steps(STEPS, SEQUENCE, keys, tolerance=8) == {
        'semseg/mIoU': 5, 'depth/rmse': 5, 'normals/mean': 10,
        'edge/l1': 5}
    report = sync_report(STEPS, SEQUENCE)
    assert report['keys'] == keys
    assert report['best_step'] == dict(semseg=10, depth=5, normals=20,
                                       edge=5)
    assert report['spread'] == 15
    synchronised = [dict(m, **{'normals/mean': 30.0 - i})
                    for i, m in enumerate(SEQUENCE[:3])]
    synchronised[2]['depth/rmse'] = 0.5
    synchronised[2]['edge/l1'] = 0.01
    assert sync_report(STEPS[:3], synchronised)['spread'] == 0


def test_normalised_curves_go_up_when_a_metric_improves():
    curves = relative_improvement(SEQUENCE, ['semseg/mIoU', 'depth/rmse'])
    assert curves['semseg/mIoU'] == pytest.approx([0, 5, 12.5, 10, 7.5])
    assert curves['depth/rmse'] == pytest.approx([0, 10, 5, 3, -10])


def test_losses_are_summed_per_task():
    losses = [{'semseg.s4t': 1.0, 'depth.s4t': 2.0, 'depth.aux': 0.5},
              {'semseg.s4t': 0.5, 'depth.s4t': 1.0, 'depth.aux': 0.25}]
    assert task_losses(losses) == dict(depth=[2.5, 1.25], semseg=[1.0, 0.5])


def test_plot_is_written(tmp_path):
    report = sync_report(STEPS, SEQUENCE, losses=[
        {'image.reconstruction': 1.0 / (i + 1)} for i in range(20)])
    for name, rep in (('both', report),
                      ('metrics', dict(report, losses={}))):
        out = plot_sync(rep, str(tmp_path / 'plots' / f'{name}.png'),
                        title='test')
        with open(out, 'rb') as f:
            data = f.read()
        assert data[:8] == b'\x89PNG\r\n\x1a\n' and len(data) > 5000
    with pytest.raises(ValueError, match='neither metrics nor losses'):
        plot_sync(dict(report, keys=[], losses={}), str(tmp_path / 'x.png'))


def _final_weights(cfg, ckpt):
    """Adapt on the warm domain with a TestTimeAdaptLoop of the config's
    hook settings: the final weights, the metrics, the TaskSyncHooks."""
    cfg = adaptation_run_cfg(cfg, TARGETS[:1], True, 0, cfg.work_dir, 'sync')
    cfg.load_from = ckpt
    runner = Runner.from_cfg(cfg)
    metrics = runner.test().domains['warm'].metrics
    state = {k: v.clone() for k, v in runner.model.state_dict().items()}
    hooks = [h for h in runner.hooks if isinstance(h, TaskSyncHook)]
    return state, metrics, hooks


def test_scoring_with_labels_never_changes_the_adaptation(tmp_path):
    """Adapting with the analysing hook, and with most labels absent, ends
    in bitwise the same weights as adapting alone."""
    ckpt = save_tiny_checkpoint(tmp_path / 'tiny.pth')
    sync = dict(type='TaskSyncHook', interval=2, analysis=True, plot=False)
    runs = [
        tiny_tta_cfg(tmp_path / 'plain', tmp_path / 'cache'),
        tiny_tta_cfg(tmp_path / 'sync', tmp_path / 'cache',
                     extra_hooks=[sync]),
        tiny_tta_cfg(tmp_path / 'nolabels', tmp_path / 'cache',
                     extra_hooks=[sync], tasks=['semseg']),
    ]
    results = [_final_weights(cfg, ckpt) for cfg in runs]
    plain, with_sync, without_labels = (r[0] for r in results)
    for other in (with_sync, without_labels):
        assert all(torch.equal(plain[k], other[k]) for k in plain)
    assert not torch.equal(plain['backbone.stem.0.weight'], torch.load(
        ckpt)['state_dict']['backbone.stem.0.weight'])
    report = results[1][2][0].reports[-1]
    assert report['steps'] == [0, 2, 4]
    assert set(report['best_step']) == {'semseg', 'depth', 'normals', 'edge'}
    # the last point is the test loop's own result
    assert report['metrics']['depth/rmse'][-1] == results[1][1]['depth/rmse']
    assert len(report['losses']['semseg']) == 4
    assert results[2][2][0].reports[-1]['keys'] == ['semseg/mIoU']


def test_losses_only_hook_follows_any_protocol(tmp_path):
    ckpt = save_tiny_checkpoint(tmp_path / 'tiny.pth')
    cfg = tiny_tta_cfg(tmp_path / 'wd', tmp_path / 'cache', extra_hooks=[
        dict(type='TaskSyncHook', out_dir=str(tmp_path / 'plots'))])
    cfg.custom_hooks[0]['protocol'] = dict(type='episodic', steps=3)
    _, _, hooks = _final_weights(cfg, ckpt)
    report = hooks[0].reports[-1]
    # two batches of four, three steps each
    assert len(report['losses']['edge']) == 6 and report['keys'] == []
    assert (tmp_path / 'plots' / 'task_sync_0.png').stat().st_size > 0
    # and through the runner's visualizer, one step per test run
    assert [p.name for p in (tmp_path / 'wd').glob(
        '*/vis_data/vis_image/*.png')] == ['task_sync_0.png']

    cfg.custom_hooks[1]['analysis'] = True
    with pytest.raises(ValueError, match='needs the paper protocol'):
        _final_weights(cfg, ckpt)
    # a plain TestLoop with the hook: nothing for the observer to observe
    cfg.load_from = ckpt
    with pytest.raises(ValueError, match='observes the adaptation of a '
                       'TestTimeAdaptLoop'):
        Runner.from_cfg(cfg).test()


def test_run_sync_analysis_reports_every_domain(tmp_path):
    ckpt = save_tiny_checkpoint(tmp_path / 'tiny.pth')
    cfg = tiny_tta_cfg(tmp_path / 'wd', tmp_path / 'cache')
    reports = run_sync_analysis(cfg, ckpt, TARGETS, steps=3, interval=2,
                                seed=0, work_dir=str(tmp_path / 'wd'),
                                name='tiny', plot_dir=str(tmp_path / 'p'))
    assert list(reports) == ['warm', 'cool']
    for domain, report in reports.items():
        assert report['steps'] == [0, 2, 3]
        assert report['spread'] == max(report['best_step'].values()) - min(
            report['best_step'].values())
        assert report['plot'] == str(tmp_path / 'p' /
                                     f'sync_tiny_{domain}.png')
        assert (tmp_path / 'p' / f'sync_tiny_{domain}.png').stat().st_size
    assert sorted(p.name for p in (tmp_path / 'wd').glob(
        '*/vis_data/vis_image/*.png')) == ['sync_tiny_cool_0.png',
                                           'sync_tiny_warm_0.png']
    with pytest.raises(ValueError, match='needs the paper protocol'):
        cfg.custom_hooks[0]['protocol'] = 'online'
        run_sync_analysis(cfg, ckpt, TARGETS, steps=3, interval=2, seed=0,
                          work_dir=str(tmp_path / 'wd'))


def test_a_seed_sets_the_adaptation_batch_and_draws(tmp_path):
    cfg = tiny_tta_cfg(tmp_path, tmp_path / 'cache')
    hook = with_seed(cfg, 7).custom_hooks[0]
    assert hook['seed'] == 7 and hook['protocol']['seed'] == 7
    assert cfg.custom_hooks[0]['protocol']['seed'] == 0
