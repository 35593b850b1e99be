"""configs/_base_/tta/ defines every adaptation method and protocol once:
the runnable configs and the benchmark tables take them from there.

Checked by value on a copy of configs/ whose tta bases mark each named
adapter and protocol with its name (``defined_as``): an entry read from a
base carries the mark, a copy written out elsewhere does not."""
import glob
import os.path as osp
import shutil

import pytest
from mmengine.config import Config

from s4t_mm.apis import tta_hook_cfg

ROOT = osp.join(osp.dirname(__file__), '..', '..', 'configs')
TTA_BASES = ('methods.py', 'protocols.py', 's4t_reference.py')
MARK = 'defined_as'
# appended to each tta base of the copy: every adapter and protocol it
# names carries that name
MARKER = f"""
for _name, _value in list(globals().items()):
    if isinstance(_value, dict) and 'type' in _value and (
            _name.endswith('_protocol') or
            str(_value['type']).endswith('Adapter')):
        _value['{MARK}'] = _name
del _name, _value
"""
# a config for one model of its own, whose adapter is its alone
OWN_ADAPTER = ('s4t/mmseg_heads_example.py', )


def _rel(path):
    return osp.relpath(path, ROOT)


# configs/mmseg_tta/ are left out: they show a stock mmseg config plus one
# hook, written out as a user outside s4t_mm would
# (docs/mmseg_integration.md)
RUNNABLE = [_rel(p) for p in sorted(
    glob.glob(osp.join(ROOT, 's4t', '*.py')) +
    glob.glob(osp.join(ROOT, 'baselines', '*.py')))
    if 'TestTimeAdaptHook' in str(Config.fromfile(p).get('custom_hooks'))]
TABLES = [_rel(p) for p in sorted(
    glob.glob(osp.join(ROOT, 'benchmark', '*.py')))]


@pytest.fixture(scope='module')
def marked(tmp_path_factory):
    """``configs/`` copied, its tta bases marking their entries."""
    root = tmp_path_factory.mktemp('marked') / 'configs'
    shutil.copytree(ROOT, root, symlinks=True)
    for name in TTA_BASES:
        with open(root / '_base_' / 'tta' / name, 'a') as f:
            f.write(MARKER)
    return root


@pytest.fixture(scope='module')
def named():
    """Every named entry of the tta bases, unmarked."""
    entries = {}
    for name in TTA_BASES:
        entries.update(Config.fromfile(
            osp.join(ROOT, '_base_', 'tta', name)).to_dict())
    return entries


def _unmarked(cfg: dict) -> dict:
    return {k: v for k, v in cfg.items() if k != MARK}


def test_the_marker_marks_adapters_and_protocols_only(marked, named):
    methods = Config.fromfile(str(marked / '_base_' / 'tta' / 'methods.py'))
    assert methods.s4t[MARK] == 's4t'
    assert methods.s4t_safe[MARK] == 's4t_safe'
    assert methods.paper_protocol[MARK] == 'paper_protocol'
    assert MARK not in methods.shift_response
    assert '_name' not in methods and '_value' not in methods
    assert _unmarked(methods.s4t_safe) == named['s4t_safe']


@pytest.mark.parametrize('path', RUNNABLE)
def test_runnable_config_takes_its_adapter_and_protocol_by_name(
        path, marked, named):
    hook = tta_hook_cfg(Config.fromfile(str(marked / path)))
    plain = tta_hook_cfg(Config.fromfile(osp.join(ROOT, path)))
    assert MARK in hook['protocol'], (
        f'{path} writes its protocol out instead of naming one of '
        'configs/_base_/tta/protocols.py')
    assert plain['protocol'] == named[hook['protocol'][MARK]]
    if path in OWN_ADAPTER:
        assert MARK not in hook['adapter']
        assert plain['adapter'] not in named.values(), (
            f'{path} copies a named adapter of configs/_base_/tta/')
    else:
        assert MARK in hook['adapter'], (
            f'{path} writes its adapter out instead of naming one of '
            'configs/_base_/tta/')
        name = hook['adapter'][MARK]
        assert plain['adapter'] == named[name], path


@pytest.mark.parametrize('path', TABLES)
def test_table_rows_come_from_the_methods_base(path, marked, named):
    """A row equal to a named method is read from the base, never written
    out again; the table's protocol is a named one."""
    table = Config.fromfile(str(marked / path))
    plain = Config.fromfile(osp.join(ROOT, path))
    assert MARK in table.protocol, f'{path} writes its protocol out'
    assert plain.protocol == named[table.protocol[MARK]]
    adapters = [v for k, v in named.items() if not k.endswith('_protocol')]
    for row, adapter in plain.methods.items():
        if adapter in adapters:
            assert MARK in table.methods[row], (
                f'{path}: row {row!r} copies a method of '
                'configs/_base_/tta/methods.py instead of naming it')


def test_the_benchmark_names_every_row():
    """synthetic_methods.py: each row is the method of its name, or (its
    *_grad_only rows) that method on the source statistics."""
    table = Config.fromfile(osp.join(ROOT, 'benchmark',
                                     'synthetic_methods.py'))
    methods = Config.fromfile(osp.join(ROOT, '_base_', 'tta', 'methods.py'))
    assert table.protocol == methods.paper_protocol
    for row, adapter in table.methods.items():
        if row.endswith('_grad_only'):
            base = methods[row[:-len('_grad_only')]]
            assert adapter == dict(base, norm_policy='source_stats')
        else:
            assert adapter == methods[row], row
