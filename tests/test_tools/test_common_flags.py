"""Every tool spells and reads its shared flags the same way."""
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
    'compare_methods': (['--configs', 'a.py', '--checkpoints', 'c.pth'],
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
