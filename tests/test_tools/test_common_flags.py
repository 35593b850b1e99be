"""Every tool spells and reads its shared flags the same way, and every
Python tool under tools/ is in the table below (a new tool must say which
shared flags it has)."""
import argparse
import glob
import os.path as osp
import sys

import pytest

from .utils import TOOLS as TOOLS_DIR
from .utils import load_tool

SHARED = ('work_dir', 'seeds', 'domains', 'cfg_options', 'launcher',
          'checkpoint')
EVERY_FLAG = set(SHARED)
# tool -> its other required arguments, and the shared flags it has (the
# README's shared-flags paragraph; what a tool lacks it must refuse)
TOOLS = {
    'train': (['cfg.py'], EVERY_FLAG - {'seeds', 'domains', 'checkpoint'}),
    'test': (['cfg.py'], EVERY_FLAG - {'seeds', 'domains'}),
    'test_time_adapt': (['cfg.py'], EVERY_FLAG),
    'compare_methods': (['--configs', 'a.py'], EVERY_FLAG),
    'benchmark_methods': (['table.py'], EVERY_FLAG - {'checkpoint'}),
    'analyze_sync': (['cfg.py'], EVERY_FLAG),
    'relation_report': (['cfg.py'], EVERY_FLAG - {'launcher'}),
    'diagnose_adaptation': (['cfg.py'], EVERY_FLAG - {'launcher'}),
    'calibrate_norm_stats': (['cfg.py', '--out', 'o.pth'], {'checkpoint'}),
    'plot_norm_shift': (['--method', 'm', '--out', 'f.png'],
                        {'work_dir', 'seeds', 'domains'}),
    's4t_ref2mm': (['src.pth.tar', 'dst.pth'], set()),
    'probe_consistency': (['table.py'],
                          EVERY_FLAG - {'launcher', 'checkpoint'}),
    'compare_test_pipelines': (['a.py', 'b.py'],
                               EVERY_FLAG - {'launcher', 'seeds'}),
    # its own flags (README): a positional checkpoint before its variadic
    # inputs, --out-dir for its outputs, one --seed; checked below
    'adapt_images': None,
}
#: each flag's spellings, what it is given and what a tool reads back
FLAGS = dict(
    work_dir=(('--work-dir', '--out-dir'), ['out'], 'out'),
    seeds=(('--seeds', '--seed'), ['3'], [3]),
    domains=(('--domains', '--domains-key'), ['validation_domains'],
             'validation_domains'),
    cfg_options=(('--cfg-options', ), ['a=1'], dict(a=1)),
    launcher=(('--launcher', ), ['pytorch'], 'pytorch'),
    checkpoint=(('--checkpoint', '--checkpoints'), ['c.pth'], 'c.pth'),
)


def _parse(monkeypatch, name, argv):
    tool = load_tool(name)
    monkeypatch.setattr(sys, 'argv', [f'{name}.py'] + argv)
    try:
        return tool.parse_args(argv)
    except TypeError:  # parse_args() without argv reads sys.argv
        return tool.parse_args()


def test_every_tool_is_in_the_table():
    found = {osp.splitext(osp.basename(p))[0] for p in glob.glob(
        osp.join(TOOLS_DIR, '**', '*.py'), recursive=True)}
    assert found == set(TOOLS)


@pytest.mark.parametrize('spelling', [0, 1])
@pytest.mark.parametrize('name', sorted(n for n in TOOLS if TOOLS[n]))
def test_shared_flags_mean_the_same_everywhere(monkeypatch, name,
                                               spelling):
    required, has = TOOLS[name]
    argv = list(required)
    for flag in has:
        spellings, values, _ = FLAGS[flag]
        argv += [spellings[min(spelling, len(spellings) - 1)]] + values
    args = _parse(monkeypatch, name, argv)
    for flag in has:
        expected = FLAGS[flag][2]
        if flag == 'checkpoint' and name == 'compare_methods':
            expected = [expected]  # one per config
        assert getattr(args, flag) == expected, flag


@pytest.mark.parametrize('name', sorted(n for n in TOOLS if TOOLS[n]))
def test_a_flag_a_tool_lacks_is_refused(monkeypatch, capsys, name):
    required, has = TOOLS[name]
    base = list(required)
    if 'checkpoint' in has:
        base += ['--checkpoint', 'c.pth']
    if name == 'plot_norm_shift':
        base += ['--work-dir', 'w']
    for flag in EVERY_FLAG - has:
        spellings, values, _ = FLAGS[flag]
        with pytest.raises(SystemExit):
            _parse(monkeypatch, name, base + [spellings[0]] + values)
        assert 'unrecognized arguments' in capsys.readouterr().err, flag


def test_adapt_images_flags(monkeypatch):
    args = _parse(monkeypatch, 'adapt_images', [
        'cfg.py', 'c.pth', 'a.png', 'frames/', '--out-dir', 'out',
        '--seed', '3', '--cfg-options', 'a=1'])
    assert (args.config, args.checkpoint, args.inputs) == (
        'cfg.py', 'c.pth', ['a.png', 'frames/'])
    assert (args.out_dir, args.seed) == ('out', 3)
    assert args.cfg_options == dict(a=1)


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
