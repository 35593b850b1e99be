"""tools/benchmark_methods.py on the tiny setup: a method table of BN-adapt
and S4T, two domains, one seed, resumed; a part stored in the cache layout
of the old tool is reused; the continual stream."""
import json
import os.path as osp
import re

import numpy as np
import pytest
from mmengine.config import Config

from s4t_mm.apis import run_domains
from s4t_mm.apis import result_key, with_seed
from ..test_tta.tiny_runner import TARGETS, tiny_tta_cfg
from .utils import load_tool, record_evaluations, tiny_method_table

S4T = dict(type='S4TAdapter', optimizer=dict(type='SGD', lr=0.05))


def _tool():
    return load_tool('benchmark_methods')


def _table(tmp_path, **overrides):
    return tiny_method_table(
        tmp_path,
        dict(bn_adapt=dict(type='NormStatsAdapter'), s4t=S4T,
             s4t_grad_only=dict(S4T, norm_policy='source_stats')),
        **dict(dict(sync_methods=['s4t'], sync_steps=2, sync_interval=1),
               **overrides))


@pytest.fixture
def evaluated(monkeypatch):
    """(run name, domain) of every domain actually evaluated."""
    return record_evaluations(monkeypatch)


def _mtimes(folder):
    return {p: p.stat().st_mtime_ns for p in folder.rglob('*.json')}


def test_benchmark_writes_configs_table_and_resumes(tmp_path):
    table, ckpt = _table(tmp_path)
    work = tmp_path / 'bench'
    tool = _tool()
    tool.main([table, '--work-dir', str(work)])

    written = Config.fromfile(str(work / 'configs' / 's4t_grad_only.py'))
    (hook, ) = written.custom_hooks
    assert hook.adapter.norm_policy == 'source_stats'
    assert 'methods' not in written
    with open(work / 'comparison.json') as f:
        results = json.load(f)
    assert list(results['methods']) == ['bn_adapt', 's4t', 's4t_grad_only']
    text = (work / 'benchmark.md').read_text()
    row = next(line for line in text.splitlines()
               if line.startswith('| all | s4t |'))
    cells = [c.strip() for c in row.strip('|').split('|')]
    methods = results['methods']
    mean = {name: np.mean([methods[name]['summary'][d]['delta_m']
                           for d in results['domains']])
            for name in methods}
    assert float(cells[2].split(' ')[0]) == pytest.approx(mean['s4t'],
                                                          abs=0.01)
    assert float(cells[3]) == pytest.approx(mean['s4t'] -
                                            mean['bn_adapt'], abs=0.01)
    gains = [methods['s4t']['summary'][d]['delta_m'] -
             methods['bn_adapt']['summary'][d]['delta_m']
             for d in results['domains']]
    assert float(cells[5]) == pytest.approx(np.median(gains), abs=0.01)
    assert cells[6] == f'{sum(g > 0 for g in gains)}/2'
    # the synchronisation reports: the one cache every tool shares
    sync = work / 'parts' / 'methods' / 's4t' / 'sync'
    assert sorted(p.name for p in sync.iterdir()) == ['cool.json',
                                                      'warm.json']
    assert osp.getsize(work / 'sync' / 'sync_s4t_warm.png') > 0
    assert '| s4t | warm | depth ' in text
    assert 'Continual stream' not in text

    # a second run finds every unit done and writes the same table
    stamps = _mtimes(work / 'parts')
    tool.main([table, '--work-dir', str(work)])
    assert (work / 'benchmark.md').read_text() == text
    assert _mtimes(work / 'parts') == stamps


def test_a_part_in_the_old_cache_layout_is_reused(tmp_path, evaluated):
    """The old tools/benchmark_methods.py stored every (method, seed,
    domain) as ``parts/methods/<name>/seed<seed>/<domain>.json``: ``{key,
    result}`` in sorted, indented JSON. Such a file is read, not redone,
    and its numbers reach the tables unchanged."""
    table, ckpt = _table(tmp_path, sync_methods=[])
    work = tmp_path / 'bench'
    tool = _tool()
    tool.main([table, '--work-dir', str(work), '--methods', 's4t'])
    cfg = Config.fromfile(str(work / 'configs' / 's4t.py'))
    key = result_key(with_seed(cfg, 0), ckpt, TARGETS[0], 0)
    part = work / 'parts' / 'methods' / 's4t' / 'seed0' / 'warm.json'
    stored = json.loads(part.read_text())
    assert stored['key'] == key
    old = dict(key=key, result=dict(stored['result'], metrics=dict(
        stored['result']['metrics'], **{'semseg/mIoU': 12.5})))
    part.write_text(json.dumps(old, indent=2, sort_keys=True))
    before = part.read_bytes()
    evaluated.clear()
    # in this process, where ``evaluated`` sees every evaluation
    tool.main([table, '--work-dir', str(work), '--methods', 's4t',
               '--verbose'])
    assert evaluated == []
    assert part.read_bytes() == before
    results = json.loads((work / 'comparison.json').read_text())
    s4t = results['methods']['s4t']['summary']['warm']
    assert s4t['adapted']['semseg/mIoU'] == 12.5
    assert '| warm | s4t | 12.500 |' in (work / 'comparison.md').read_text()


def test_continual_stream_carries_the_state_across_domains(tmp_path):
    table, ckpt = _table(tmp_path, continual=True, sync_methods=[],
                         protocol=dict(type='online', steps=1))
    work = tmp_path / 'stream'
    text = _tool().main([table, '--work-dir', str(work), '--methods', 's4t'])
    results = json.loads((work / 'comparison.json').read_text())
    assert results['domains'] == ['warm', 'cool']
    summary = results['methods']['s4t']['summary']
    stream = text[text.index('## Continual stream'):].splitlines()
    rows = [line for line in stream if line.startswith('| 1 ') or
            line.startswith('| 2 ')]
    assert rows == [
        f'| {i} | {d} | {summary[d]["delta_m"]:+.2f} ± '
        f'{summary[d]["delta_m_std"]:.2f} |'
        for i, d in enumerate(['warm', 'cool'], 1)]

    # the same method reset at each domain: the first domain is the same
    # run, the second starts from the source state instead of warm's
    cfg = Config.fromfile(str(work / 'configs' / 's4t.py'))
    cfg.custom_hooks[0]['protocol'] = dict(type='online', steps=1,
                                           reset_each_domain=True)
    reset = run_domains(cfg, ckpt, TARGETS, adapt=True, seed=0,
                        work_dir=str(tmp_path / 'reset'), name='reset')
    continual = results['methods']['s4t']['summary']
    assert continual['warm']['adapted_per_seed']['0'] == \
        reset['warm']['metrics']
    assert continual['cool']['adapted_per_seed']['0'] != \
        reset['cool']['metrics']


def test_continual_needs_a_protocol_that_carries_the_state(tmp_path):
    table, _ = _table(tmp_path, continual=True, sync_methods=[])
    with pytest.raises(ValueError, match=r"continual=True needs .*"
                       r"type='online'.* the table has .*'paper'"):
        _tool().main([table, '--work-dir', str(tmp_path / 'w')])


def test_unknown_method_names_the_table(tmp_path):
    table, _ = _table(tmp_path)
    with pytest.raises(KeyError, match=r"unknown method\(s\) \['sar'\]"):
        _tool().main([table, '--methods', 'sar', '--work-dir',
                      str(tmp_path / 'w')])


def _comparison(work):
    """comparison.json without the paths that name the work dir."""
    results = json.loads((work / 'comparison.json').read_text())
    for method in results['methods'].values():
        method.pop('config')
    return results


def test_quiet_run_prints_its_stages_and_the_table(tmp_path, capfd):
    """By default the stages run in worker processes: the terminal gets one
    line per (run, domain) with its delta_m and then benchmark.md, while
    mmengine's INFO blocks go to each Runner's log in the work dir;
    --verbose runs in one process with all of them on the terminal. Both
    give the same numbers."""
    table, _ = _table(tmp_path, log_level='INFO')
    quiet, verbose = tmp_path / 'quiet', tmp_path / 'verbose'
    tool = _tool()
    text = tool.main([table, '--work-dir', str(quiet), '--jobs', '2'])
    out = capfd.readouterr().out
    assert text == (quiet / 'benchmark.md').read_text()
    assert text in out
    stages = out.replace(text, '')
    assert len(stages) < 3000
    assert 'System environment' not in out and 'Config:' not in out
    results = _comparison(quiet)
    for domain in ('warm', 'cool'):
        assert re.search(rf'\[\d/8\] source-only on {domain} \(', out)
        for name, method in results['methods'].items():
            value = method['summary'][domain]['delta_m']
            assert f'] {name} on {domain}: delta_m {value:+.2f} %' in out
    for name in ('s4t', ):
        for domain in ('warm', 'cool'):
            assert f'[sync] {name} on {domain}' in out
    # the full logs: each Runner's own file, the stages in benchmark.log
    (log, ) = [p for p in (quiet / 'bn_adapt').rglob('*.log')
               if '] warm' in p.read_text()]
    assert 'System environment' in log.read_text()
    assert 'Config:' in log.read_text()
    assert '[1/8] ' in (quiet / 'benchmark.log').read_text()

    tool.main([table, '--work-dir', str(verbose), '--verbose'])
    out = capfd.readouterr().out
    assert out.count('System environment') >= 4
    assert 'Config:' in out
    assert _comparison(verbose) == results
    assert (verbose / 'benchmark.md').read_text() == text


def test_quiet_run_trains_with_a_progress_bar(tmp_path, capfd):
    """Without a checkpoint the quiet run renders the training set, trains
    in a worker and draws mmengine's progress bar here from its
    iterations, then adapts the checkpoint it trained."""
    train = tiny_tta_cfg(tmp_path / 'unused', tmp_path / 'cache')
    train.pop('custom_hooks')
    loader = train.test_dataloader
    train.merge_from_dict(dict(
        train_dataloader=dict(
            loader, sampler=dict(type='InfiniteSampler', shuffle=True),
            dataset=dict(loader.dataset, split='train', style='source')),
        train_cfg=dict(by_epoch=False, max_iters=5),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=1e-3)),
        default_hooks=dict(
            logger=dict(type='LoggerHook', interval=1),
            checkpoint=dict(type='CheckpointHook', by_epoch=False,
                            interval=5)),
        log_processor=dict(by_epoch=False), log_level='INFO'))
    train_config = str(tmp_path / 'train.py')
    train.dump(train_config)
    table, _ = _table(tmp_path, train_config=train_config,
                      source_work_dir=str(tmp_path / 'trained'),
                      sync_methods=[])
    work = tmp_path / 'bench'
    _tool().main([table, '--work-dir', str(work), '--jobs', '2',
                  '--methods', 'bn_adapt'])
    out = capfd.readouterr().out
    assert re.search(r'\[render\] \S+synthetic_v1_source_train_seed0_n8_'
                     r'32x32\S+\.npz', out)
    assert '5/5, ' in out and 'ETA' in out
    ckpt = str(tmp_path / 'trained' / 'iter_5.pth')
    assert f'[train] {ckpt} (' in out
    results = json.loads((work / 'comparison.json').read_text())
    assert results['source']['iter_5']['checkpoint'] == ckpt
    assert 'Iter(train) [5/5]' not in out
    (log, ) = (tmp_path / 'trained').glob('*/*.log')
    assert 'Iter(train) [5/5]' in log.read_text()
