"""tools/test_time_adapt.py and tools/compare_methods.py keep every finished
domain as they go: killed by a signal and run again with --resume they skip
what is done and end with the same JSON as an uninterrupted run."""
import json
import signal
import subprocess
import sys
import time

import pytest

import s4t_mm.apis.sync_analysis as sync_analysis
from ..test_tta.tiny_runner import TARGETS, save_tiny_checkpoint, tiny_tta_cfg
from .test_train_and_adapt import ROOT, _run
from .utils import load_tool, record_evaluations

DOMAINS = TARGETS + [dict(name='warm-brightness-4', dataset=dict(
    style='target_warm'), corruption=dict(corruption='brightness',
                                          severity=4))]
SGD = dict(type='SGD', lr=0.05)


@pytest.fixture(scope='module')
def compare_tool():
    return load_tool('compare_methods')


@pytest.fixture(scope='module')
def ckpt(tmp_path_factory):
    return save_tiny_checkpoint(tmp_path_factory.mktemp('ckpt') / 'tiny.pth')


def _config(tmp_path, name, adapter=None, protocol=None, domains=DOMAINS):
    cfg = tiny_tta_cfg(tmp_path / 'unused', tmp_path / 'cache',
                       adapter=adapter, steps=2)
    cfg.target_domains = domains
    cfg.log_level = 'INFO'  # the runs say what they resumed
    if protocol is not None:
        cfg.custom_hooks[0]['protocol'] = protocol
    path = str(tmp_path / f'{name}.py')
    cfg.dump(path)
    return path


def _kill_when(proc, ready, sig):
    """Send ``sig`` to ``proc`` as soon as ``ready()``; it must still run."""
    deadline = time.time() + 300
    while not ready():
        assert proc.poll() is None, 'the run ended before it was killed'
        assert time.time() < deadline, 'the run made no progress'
        time.sleep(0.02)
    proc.send_signal(sig)
    proc.wait()
    assert proc.returncode == -sig


@pytest.fixture
def evaluated(monkeypatch):
    """(run name, domain) of every domain actually evaluated."""
    return record_evaluations(monkeypatch)


def _mtimes(folder):
    return {p: p.stat().st_mtime_ns for p in folder.rglob('*.json')}


def test_test_time_adapt_resumes_after_sigkill(tmp_path, ckpt):
    cfg = _config(tmp_path, 'tta')

    def args(name):
        return ['tools/test_time_adapt.py', cfg, '--checkpoint', ckpt,
                '--work-dir', str(tmp_path / name), '--out',
                str(tmp_path / f'{name}.json')]

    # every run in its own process: the same numbers to the last bit
    _run(args('whole'))
    parts = tmp_path / 'killed.parts'
    proc = subprocess.Popen([sys.executable] + args('killed'), cwd=ROOT,
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    _kill_when(proc, lambda: any((parts / 'adapted_seed0').glob('*.json')),
               signal.SIGKILL)
    finished = _mtimes(parts)
    # the source-only run (3 domains) and part of the adapted one
    assert 3 < len(finished) < 6
    log = _run(args('killed') + ['--resume'])
    assert 'resumed: 3 of 3 domains already finished' in log
    assert (tmp_path / 'killed.json').read_bytes() == \
        (tmp_path / 'whole.json').read_bytes()
    assert all(p.stat().st_mtime_ns == t for p, t in finished.items())
    assert len(_mtimes(parts)) == 6


def test_compare_methods_resumes_after_sigterm(tmp_path, ckpt):
    configs = [_config(tmp_path, 's4t', dict(type='S4TAdapter',
                                             optimizer=SGD)),
               _config(tmp_path, 'tent', dict(type='TentAdapter',
                                              optimizer=SGD))]

    def args(name):
        return ['--configs', *configs, '--checkpoints', ckpt, '--seeds', '0',
                '--out-dir', str(tmp_path / name), '--resume']

    # every run in its own process: the same numbers to the last bit
    _run(['tools/compare_methods.py'] + args('whole'))
    parts = tmp_path / 'killed' / 'parts'
    proc = subprocess.Popen(
        [sys.executable, 'tools/compare_methods.py'] + args('killed'),
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _kill_when(proc, lambda: any(
        (parts / 'methods' / 's4t' / 'seed0').glob('*.json')),
        signal.SIGTERM)
    finished = _mtimes(parts)
    assert 3 < len(finished) < 3 + 6
    _run(['tools/compare_methods.py'] + args('killed'))
    assert (tmp_path / 'killed' / 'comparison.json').read_bytes() == \
        (tmp_path / 'whole' / 'comparison.json').read_bytes()
    assert all(p.stat().st_mtime_ns == t for p, t in finished.items())
    assert len(_mtimes(parts)) == 3 + 6


def test_compare_resume_runs_only_new_units(compare_tool, tmp_path, ckpt,
                                            evaluated, monkeypatch):
    domains = DOMAINS[:2]
    a = _config(tmp_path, 'a', dict(type='S4TAdapter', optimizer=SGD),
                domains=domains)
    b = _config(tmp_path, 'b', dict(type='TentAdapter', optimizer=SGD),
                domains=domains)
    out = str(tmp_path / 'out')
    common = ['--checkpoints', ckpt, '--out-dir', out, '--sync-steps', '2',
              '--sync-interval', '1']
    compare_tool.main(['--configs', a, '--seeds', '0', *common])
    # source-only, seed 0 and the synchronisation analysis (run 'a')
    assert len(evaluated) == 2 + 2 + 2
    evaluated.clear()
    synced = []
    run_sync_analysis = sync_analysis.run_sync_analysis

    def recorded_sync(*args, **kwargs):
        synced.append((kwargs['name'], args[2][0]['name']))
        return run_sync_analysis(*args, **kwargs)

    monkeypatch.setattr(sync_analysis, 'run_sync_analysis', recorded_sync)
    results = compare_tool.main(['--configs', a, b, '--seeds', '0', '1',
                                 '--resume', *common])
    # only (a, seed 1), b's two seeds and b's analysis; no source-only,
    # nothing of (a, 0) nor a's analysis
    assert sorted(evaluated) == sorted(
        [('a_seed1', d['name']) for d in domains] +
        [(f'b_seed{s}', d['name']) for s in (0, 1) for d in domains] +
        [('b', d['name']) for d in domains])
    assert synced == [('b', d['name']) for d in domains]
    assert list(results['methods']) == ['a', 'b']
    assert results['methods']['a']['sync']['warm']['steps'] == [0, 1, 2]


def test_resume_refuses_results_of_other_settings(compare_tool, tmp_path,
                                                  ckpt):
    domains = DOMAINS[:1]
    path = _config(tmp_path, 'a', dict(type='S4TAdapter', optimizer=SGD),
                   domains=domains)
    out = str(tmp_path / 'out')
    compare_tool.main(['--configs', path, '--checkpoints', ckpt, '--seeds',
                       '0', '--out-dir', out])
    _config(tmp_path, 'a', dict(type='S4TAdapter', optimizer=dict(
        type='SGD', lr=0.5)), domains=domains)
    with pytest.raises(ValueError, match=r'seed0/warm.json holds the result '
                       r"of another run: its settings '[0-9a-f]+' differ "
                       r"from this run's '[0-9a-f]+'"):
        compare_tool.main(['--configs', path, '--checkpoints', ckpt,
                           '--seeds', '0', '--out-dir', out, '--resume'])


def test_a_protocol_carrying_state_reruns_its_seed(compare_tool, tmp_path,
                                                   ckpt, evaluated):
    domains = DOMAINS[:2]
    path = _config(tmp_path, 'online', dict(type='S4TAdapter', optimizer=SGD),
                   protocol=dict(type='online', steps=1), domains=domains)
    out = tmp_path / 'out'
    args = ['--configs', path, '--checkpoints', ckpt, '--seeds', '0',
            '--out-dir', str(out), '--resume']
    whole = compare_tool.main(args)
    (out / 'parts' / 'methods' / 'online' / 'seed0' / 'cool.json').unlink()
    evaluated.clear()
    assert compare_tool.main(args) == whole
    # cool starts from the state warm left: warm is run again
    assert evaluated == [('online_seed0', 'warm'), ('online_seed0', 'cool')]


def test_strict_exits_non_zero_on_a_diverged_method(compare_tool, tmp_path,
                                                    ckpt):
    domains = DOMAINS[:1]
    path = _config(tmp_path, 'wild', dict(
        type='S4TAdapter', loss_weight=1.0,
        optimizer=dict(type='SGD', lr=1e30)), domains=domains)
    out = tmp_path / 'out'
    args = ['--configs', path, '--checkpoints', ckpt, '--seeds', '0',
            '--out-dir', str(out)]
    results = compare_tool.main(args)  # not strict: reports, exits 0
    s = results['methods']['wild']['summary']['warm']
    assert s['diverged'] and s['delta_m'] is None
    # each step is undone at once (its parameters exploded)
    assert s['divergence'] == [
        'seed 0: 2 x non finite parameters at steps 1, 2']
    table = (out / 'comparison.md').read_text()
    assert '| warm | wild | ' in table and 'nan' not in table.lower()
    assert '- warm, wild: diverged, left out of the means (seed 0: ' in table
    assert '| wild | diverged on every domain | - |' in table
    with open(out / 'comparison.json') as f:
        json.load(f, parse_constant=lambda c: pytest.fail(c))
    with pytest.raises(SystemExit) as exit_info:
        compare_tool.main(args + ['--strict', '--resume'])
    assert exit_info.value.code == compare_tool.DIVERGED_EXIT_STATUS == 3
