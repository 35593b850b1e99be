"""Every tool spells and reads its shared flags the same way."""
import argparse
import sys

import pytest

from .utils import load_tool

# tool -> its positional arguments, and which shared flags it has
TOOLS = {
    'train': ([], dict(seeds=False, domains=False, launcher=True)),
    'test_time_adapt': (['--checkpoint', 'c.pth'], dict(launcher=True)),
    'analyze_sync': (['--checkpoint', 'c.pth'], dict(launcher=True)),
    'relation_report': (['--checkpoint', 'c.pth'], dict(launcher=False)),
    'diagnose_adaptation': (['--checkpoint', 'c.pth'],
                            dict(launcher=False)),
    'compare_methods': (['--configs', 'a.py', '--checkpoint', 'c.pth'],
                        dict(launcher=True)),
    'benchmark_methods': ([], dict(launcher=True)),
}


def _parse(monkeypatch, name, argv):
    tool = load_tool(name)
    monkeypatch.setattr(sys, 'argv', [f'{name}.py'] + argv)
    try:
        return tool.parse_args(argv)
    except TypeError:  # parse_args() without argv reads sys.argv
        return tool.parse_args()


@pytest.mark.parametrize('name', sorted(TOOLS))
def test_shared_flags_mean_the_same_everywhere(monkeypatch, name):
    positional, has = TOOLS[name]
    argv = ['cfg.py'] + positional + [
        '--work-dir', 'out', '--cfg-options', 'a=1']
    if has.get('seeds', True):
        argv += ['--seeds', '3']
    if has.get('domains', True):
        argv += ['--domains', 'validation_domains']
    if has['launcher']:
        argv += ['--launcher', 'pytorch']
    if name == 'compare_methods':
        argv.remove('cfg.py')
    args = _parse(monkeypatch, name, argv)
    assert args.work_dir == 'out' and args.cfg_options == dict(a=1)
    if has.get('seeds', True):
        assert args.seeds == [3]
    if has.get('domains', True):
        assert args.domains == 'validation_domains'
    if has['launcher']:
        assert args.launcher == 'pytorch'
    else:
        assert not hasattr(args, 'launcher')


def test_a_one_seed_tool_refuses_several(monkeypatch, capsys):
    with pytest.raises(SystemExit):
        _parse(monkeypatch, 'analyze_sync',
               ['cfg.py', '--checkpoint', 'c.pth', '--seeds', '0', '1'])
    assert 'this tool runs one seed' in capsys.readouterr().err


@pytest.mark.parametrize('name,argv', [
    ('test_time_adapt', ['cfg.py', '--checkpoint', 'c.pth']),
    ('test_time_adapt', ['cfg.py', '--checkpoints', 'c.pth']),
    ('test_time_adapt', ['cfg.py', 'c.pth']),  # mmseg's positional spelling
    ('analyze_sync', ['cfg.py', 'c.pth', '--seeds', '2']),
])
def test_one_checkpoint_flag_with_its_old_spellings(monkeypatch, name, argv):
    assert _parse(monkeypatch, name, argv).checkpoint == 'c.pth'


def test_several_checkpoints_under_both_spellings(monkeypatch):
    for flag in ('--checkpoint', '--checkpoints'):
        args = _parse(monkeypatch, 'compare_methods', [
            '--configs', 'a.py', 'b.py', flag, 'x.pth', 'y.pth',
            '--work-dir', 'out'])
        assert args.checkpoint == ['x.pth', 'y.pth']


@pytest.mark.parametrize('argv,error', [
    (['cfg.py'], 'a checkpoint is required: --checkpoint CKPT'),
    (['cfg.py', 'a.pth', '--checkpoint', 'b.pth'],
     "the checkpoint is given twice ('a.pth' and --checkpoint 'b.pth')"),
])
def test_a_checkpoint_given_never_or_twice_is_refused(monkeypatch, capsys,
                                                      argv, error):
    with pytest.raises(SystemExit):
        _parse(monkeypatch, 'test_time_adapt', argv)
    assert error in capsys.readouterr().err


def test_resolve_checkpoint_on_a_plain_parser():
    from s4t_mm.engine.launch import add_checkpoint_arg, resolve_checkpoint
    parser = argparse.ArgumentParser()
    parser.add_argument('config')
    add_checkpoint_arg(parser, positional=True)
    args = parser.parse_args(['cfg.py', '--checkpoint', 'c.pth'])
    resolve_checkpoint(parser, args)
    assert vars(args) == dict(config='cfg.py', checkpoint='c.pth')
