"""The wheel as a downstream user gets it: built from the checkout,
installed into a folder of its own, and used from outside the checkout by
``projects/example_downstream`` (its own head and adapter, an mmseg decode
head, a config inheriting ``s4t_mm::s4t/synthetic_r18_s4t_tta.py``)."""
import json
import os
import os.path as osp
import shutil
import subprocess
import sys
import zipfile

import pytest

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
PROJECT = osp.join(REPO, 'projects', 'example_downstream')


def _run(args, cwd, env=None, timeout=600):
    out = subprocess.run(args, cwd=cwd, env=env, capture_output=True,
                         text=True, timeout=timeout)
    assert out.returncode == 0, (
        f'{" ".join(args)} failed ({out.returncode}):\n'
        f'{out.stdout[-3000:]}\n{out.stderr[-3000:]}')
    return out.stdout


@pytest.fixture(scope='module')
def installed(tmp_path_factory):
    """(the wheel's file names, the folder it is installed into)."""
    tmp = tmp_path_factory.mktemp('wheel')
    _run([sys.executable, '-m', 'pip', 'wheel', '--no-deps',
          '--no-build-isolation', '-q', '-w', str(tmp / 'dist'), '.'],
         cwd=REPO)
    wheel, = (tmp / 'dist').glob('s4t_mm-*.whl')
    site = tmp / 'site'
    _run([sys.executable, '-m', 'pip', 'install', '--no-deps', '-q',
          '--target', str(site), str(wheel)], cwd=str(tmp))
    return zipfile.ZipFile(wheel).namelist(), site


def _env(site):
    return dict(os.environ, PYTHONPATH=str(site), OMP_NUM_THREADS='1')


def test_the_wheel_carries_configs_tools_and_the_model_index(installed):
    names, _ = installed
    for name in ('s4t_mm/.mim/configs/s4t/synthetic_r18_s4t_tta.py',
                 's4t_mm/.mim/configs/_base_/default_runtime.py',
                 's4t_mm/.mim/tools/test_time_adapt.py',
                 's4t_mm/.mim/tools/train.py',
                 's4t_mm/.mim/model-index.yml',
                 's4t_mm/tools/test_time_adapt.py'):
        assert name in names, name
    assert not [n for n in names if n.startswith(('tests/', 'projects/'))]
    assert not [n for n in names if '__pycache__' in n]


def test_the_downstream_project_adapts_from_the_installed_package(
        installed, tmp_path):
    _, site = installed
    project = tmp_path / 'example_downstream'
    shutil.copytree(PROJECT, project)
    out = _run([sys.executable, 'adapt_and_predict.py', '--work-dir',
                str(tmp_path / 'work'), '--train-iters', '2', '--img-size',
                '32', '--num-images', '4'], cwd=str(project), env=_env(site))
    result = json.loads(out.strip().splitlines()[-1])
    # the installed s4t_mm, not the checkout's
    assert result['s4t_mm'] == str(site / 's4t_mm' / '__init__.py')
    # the downstream config: its own and mmseg's heads on the inherited model
    assert result['heads'] == dict(semseg='mmseg.FCNHead',
                                   depth='LogDepthHead')
    assert result['backbone'] == 'mmseg.ResNetV1c'
    assert result['target_domains'][:2] == ['target_warm', 'target_cool']
    assert result['steps'] == 10
    assert max(result['max_change'].values()) > 1e-4


def test_the_packaged_tool_runs(installed, tmp_path):
    """``python -m s4t_mm.tools.test_time_adapt`` is the wheel's copy of
    tools/test_time_adapt.py, so its flags are that script's."""
    _, site = installed
    out = _run([sys.executable, '-m', 's4t_mm.tools.test_time_adapt',
                '--help'], cwd=str(tmp_path), env=_env(site))
    assert out.startswith('usage: test_time_adapt.py')
    assert '--checkpoint' in out
