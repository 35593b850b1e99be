"""tools/train.py (with --resume) and tools/test_time_adapt.py end to end on
a tiny version of the embedded-world configs."""
import json
import os.path as osp
import re
import subprocess
import sys
import textwrap

import pytest

ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))


PAPER = "dict(type='paper', steps=2, num_batches=1)"


def _write_config(tmp_path, max_iters, protocol=PAPER, batch_size=4):
    cfg = tmp_path / f'tiny_{max_iters}.py'
    cache = tmp_path / 'cache'
    cfg.write_text(textwrap.dedent(f"""
        _base_ = [{osp.join(ROOT, 'configs/s4t/synthetic_r18_s4t_tta.py')!r}]
        max_iters = {max_iters}
        train_dataloader = dict(batch_size=4, dataset=dict(
            num_samples=16, img_size=32, cache_dir={str(cache)!r}))
        val_dataloader = dict(batch_size=4, dataset=dict(
            num_samples=8, img_size=32, cache_dir={str(cache)!r}))
        test_dataloader = dict(batch_size={batch_size}, dataset=dict(
            num_samples=8, img_size=32, cache_dir={str(cache)!r}))
        train_cfg = dict(max_iters=max_iters, val_interval=1000)
        param_scheduler = [dict(type='PolyLR', eta_min=0.0, power=0.9,
                                begin=0, end=12, by_epoch=False)]
        default_hooks = dict(
            logger=dict(interval=1),
            checkpoint=dict(interval=3, max_keep_ckpts=5, save_last=True))
        target_domains = [
            dict(name='target_cool', dataset=dict(style='target_cool')),
            dict(name='fog-3', corruption=dict(corruption='fog',
                                               severity=3)),
        ]
        custom_hooks = [dict(
            type='TestTimeAdaptHook',
            adapter=dict(type='S4TAdapter',
                         optimizer=dict(type='SGD', lr=1e-3)),
            protocol={protocol})]
    """))
    return str(cfg)


def _run(args):
    out = subprocess.run([sys.executable] + args, cwd=ROOT,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return out.stdout + out.stderr


def _losses(log):
    return {int(i): float(v) for i, v in re.findall(
        r'Iter\(train\) \[\s*(\d+)/\d+\].*?\sloss: ([\d.]+)', log)}


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp('train')
    work = tmp_path / 'work'
    log = _run(['tools/train.py', _write_config(tmp_path, 6),
                '--work-dir', str(work)])
    return tmp_path, work, log


def test_train_writes_loadable_checkpoints(trained):
    _, work, log = trained
    assert (work / 'iter_3.pth').is_file()
    assert (work / 'iter_6.pth').is_file()
    assert set(_losses(log)) == {1, 2, 3, 4, 5, 6}


def test_resume_continues_the_loss_curve(trained):
    tmp_path, work, first_log = trained
    first = _losses(first_log)
    log = _run(['tools/train.py', _write_config(tmp_path, 12),
                '--work-dir', str(work), '--resume'])
    assert 'resumed' in log.lower()
    resumed = _losses(log)
    assert set(resumed) == set(range(7, 13))
    # the curve continues from where it stopped instead of restarting
    assert resumed[7] < first[1]
    assert (work / 'iter_12.pth').is_file()


def test_test_time_adapt_writes_table_and_json(trained):
    tmp_path, work, _ = trained
    out = tmp_path / 'results.json'
    show = tmp_path / 'show'
    log = _run(['tools/test_time_adapt.py', _write_config(tmp_path, 6),
                '--checkpoint', str(work / 'iter_6.pth'),
                '--work-dir', str(tmp_path / 'tta'), '--out', str(out),
                '--seeds', '0', '1', '--show-dir', str(show)])
    for domain in ('target_cool', 'fog-3'):
        drawings = list((show / 'comparison' / domain).glob('*.png'))
        assert len(drawings) == 8
        assert all(p.stat().st_size > 0 for p in drawings)
    results = json.loads(out.read_text())
    assert results['method'] == 'S4TAdapter'
    assert results['protocol']['type'] == 'paper'
    assert results['steps'] == 2
    assert set(results['domains']) == {'target_cool', 'fog-3'}
    for domain in results['domains'].values():
        assert set(domain['adapted_per_seed']) == {'0', '1'}
        assert domain['source']['semseg/mIoU'] >= 0
        assert len(domain['delta_m_per_seed']) == 2
        assert all(s['steps'] == 2 for s in domain['tta_stats'])
    assert 'delta_m' in log and 'target_cool' in log


def test_same_config_seed_and_machine_give_byte_identical_json(trained):
    tmp_path, work, _ = trained
    outs = [tmp_path / f'run{i}.json' for i in range(2)]
    for i, out in enumerate(outs):
        _run(['tools/test_time_adapt.py', _write_config(tmp_path, 6),
              '--checkpoint', str(work / 'iter_6.pth'),
              '--work-dir', str(tmp_path / f'det{i}'), '--out', str(out)])
    assert outs[0].read_bytes() == outs[1].read_bytes()


def test_class_count_mismatch_with_the_checkpoint_is_an_error(trained):
    tmp_path, work, _ = trained
    out = subprocess.run(
        [sys.executable, 'tools/test_time_adapt.py',
         _write_config(tmp_path, 6), '--checkpoint',
         str(work / 'iter_6.pth'), '--work-dir', str(tmp_path / 'bad'),
         '--cfg-options', 'model.heads.semseg.num_classes=7'],
        cwd=ROOT, capture_output=True, text=True)
    assert out.returncode != 0
    assert 'heads.semseg.conv_out.weight: checkpoint (6, 240, 1, 1), ' \
        'model (7, 240, 1, 1)' in out.stderr
