"""The wheel as a downstream user gets it: built from a copy of the
checkout (so the build leaves no build/ or egg-info behind in it), installed
into a folder of its own, and used from outside the checkout by
``projects/example_downstream`` (its own head and adapter, an mmseg decode
head, a config inheriting ``s4t_mm::s4t/synthetic_r18_s4t_tta.py``) and by
OpenMMLab's ``mim`` (search, train, test)."""
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
#: what a source build does not read: caches, outputs, the install's files
NOT_SOURCES = ('.git', 'data', 'work_dirs', 'build', 'dist', '*.egg-info',
               '__pycache__', '.mim', '.venv', '.pytest_cache',
               '.hypothesis')


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
    source = tmp / 'source'
    shutil.copytree(REPO, source,
                    ignore=shutil.ignore_patterns(*NOT_SOURCES))
    _run([sys.executable, '-m', 'pip', 'wheel', '--no-deps',
          '--no-build-isolation', '-q', '-w', str(tmp / 'dist'), '.'],
         cwd=str(source))
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
                 's4t_mm/.mim/tools/test.py',
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


def _mim(site, args, cwd):
    return _run([sys.executable, '-m', 'mim'] + args, cwd=str(cwd),
                env=_env(site))


def _tiny_data(cache):
    """``--cfg-options`` that make the embedded configs tiny: 32x32 images,
    16 training and 8 test images (two calibration batches of 8)."""
    sizes = dict(train_dataloader=16, val_dataloader=4, test_dataloader=8)
    return [f'{loader}.dataset.{key}={value}'
            for loader, num in sizes.items()
            for key, value in (('num_samples', num), ('img_size', 32),
                               ('cache_dir', cache))]


def test_mim_searches_trains_and_tests_the_installed_package(installed,
                                                             tmp_path):
    """``mim search``, ``mim train`` and ``mim test`` (the wheel's
    .mim/tools/test.py) from the installed wheel, outside the checkout."""
    _, site = installed
    out = _mim(site, ['search', 's4t_mm'], tmp_path)
    assert 'config id: synthetic_r18_s4t_tta' in out
    assert 'configs/s4t/synthetic_r18_s4t_tta.py' in out
    cache = str(tmp_path / 'cache')
    work = tmp_path / 'work'
    _mim(site, ['train', 's4t_mm', 'synthetic_r18_source.py', '--work-dir',
                str(work), '--cfg-options', 'train_cfg.max_iters=2',
                'train_dataloader.batch_size=4',
                'custom_hooks.0.num_batches=2'] + _tiny_data(cache),
         tmp_path)
    ckpt = work / 'iter_2.pth'
    assert ckpt.is_file()
    log = _mim(site, ['test', 's4t_mm', 'synthetic_r18_s4t_tta.py',
                      '--checkpoint', str(ckpt), '--work-dir',
                      str(tmp_path / 'test'), '--cfg-options',
                      'custom_hooks.0.protocol.steps=2'] +
               _tiny_data(cache), tmp_path)
    # the packaged config and tool ran: the adapter adapted, then the test
    # loop scored every task
    assert str(site / 's4t_mm' / '.mim' / 'tools' / 'test.py') in log
    assert 'S4TAdapter: adapting' in log
    for metric in ('semseg/mIoU', 'depth/rmse', 'normals/mean',
                   'edge/odsF_tol'):
        assert metric in log
