"""The safe checkpoint loader (what ``import s4t_mm`` changes in mmengine)
and the one checkpoint path, :func:`load_model_checkpoint`."""
import os
import stat
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn as nn
from mmengine.fileio import LocalBackend, get, get_file_backend, put
from mmengine.logging import HistoryBuffer
from mmengine.model import BaseModel
from mmengine.registry import DefaultScope
from mmengine.runner import Runner
from mmengine.runner.checkpoint import _load_checkpoint

from s4t_mm.fileio import (CheckpointMismatchError, UnsafeCheckpointError,
                           check_state_dict_fits, load_checkpoint_file,
                           load_model_checkpoint, safe_checkpoints_requested)


class _RunsCode:
    """Unpickling this creates a file: stands for arbitrary code."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, 'w'))


class _ReachesAMethod:
    """Unpickling this asks ``getattr`` for a method that writes files."""

    def __reduce__(self):
        return (getattr, (np.ndarray, 'tofile'))


def test_checkpoint_that_would_run_code_is_refused(tmp_path):
    marker = tmp_path / 'pwned'
    path = tmp_path / 'evil.pth'
    torch.save({'state_dict': {'w': torch.zeros(1)},
                'meta': _RunsCode(str(marker))}, path)
    with pytest.raises(UnsafeCheckpointError,
                       match='refused to load .*could run arbitrary code'):
        load_checkpoint_file(str(path))
    # through mmengine's loader (what Runner.load_checkpoint uses) as well
    with pytest.raises(UnsafeCheckpointError):
        _load_checkpoint(str(path), map_location='cpu')
    assert not marker.exists()


def test_getattr_reaches_only_history_buffer_statistics(tmp_path):
    path = tmp_path / 'getattr.pth'
    torch.save({'meta': _ReachesAMethod()}, path)
    with pytest.raises(UnsafeCheckpointError,
                       match=r"getattr\(<class 'numpy.ndarray'>, 'tofile'\)"):
        load_checkpoint_file(str(path))


def test_mmengine_style_checkpoint_with_numpy_and_history_loads(tmp_path):
    hub = HistoryBuffer()
    hub.update(1.5)
    ckpt = dict(
        meta=dict(seed=np.int64(3), epoch=0, iter=np.float64(2.0),
                  hist=hub, arr=np.arange(3, dtype=np.float32)),
        state_dict={'w': torch.ones(2)},
        message_hub=dict(log_scalars={'loss': hub}))
    path = tmp_path / 'ok.pth'
    torch.save(ckpt, path)
    # mmengine pickles the buffer's statistics methods through getattr
    assert b'getattr' in path.read_bytes()
    loaded = _load_checkpoint(str(path), map_location='cpu')
    assert loaded['meta']['seed'] == 3
    assert np.array_equal(loaded['meta']['arr'], np.arange(3))
    assert loaded['message_hub']['log_scalars']['loss'].current() == 1.5
    assert loaded['message_hub']['log_scalars']['loss'].mean() == 1.5
    assert torch.equal(loaded['state_dict']['w'], torch.ones(2))


class _ToyModel(BaseModel):

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(2, 1)

    def forward(self, inputs, target, mode='loss'):
        return dict(loss=((self.linear(inputs) - target)**2).mean())


def _runner(work_dir, resume=False):
    data = [(torch.tensor([float(i), 1.0]), torch.tensor([2.0 * i]))
            for i in range(4)]
    loader = torch.utils.data.DataLoader(
        data, batch_size=2,
        collate_fn=lambda b: dict(inputs=torch.stack([x for x, _ in b]),
                                  target=torch.stack([y for _, y in b])))
    return Runner(
        model=_ToyModel(), work_dir=str(work_dir), train_dataloader=loader,
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01,
                                          momentum=0.9)),
        train_cfg=dict(by_epoch=False, max_iters=2),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook',
                                           interval=2, by_epoch=False)),
        default_scope='mmengine', resume=resume,
        experiment_name=f'toy_{int(resume)}')


def test_stock_mmengine_runner_checkpoint_resumes(tmp_path):
    """A plain mmengine Runner (no s4t_mm component) saves, then resumes
    its own checkpoint: weights, momentum, iteration and message hub."""
    # the runners' default scope ends with the test
    with DefaultScope.overwrite_default_scope('mmengine'):
        trained = _runner(tmp_path)
        trained.train()
        assert (tmp_path / 'iter_2.pth').is_file()
        resumed = _runner(tmp_path, resume=True)
        resumed.load_or_resume()
    assert resumed.iter == 2
    for a, b in zip(trained.model.parameters(), resumed.model.parameters()):
        assert torch.equal(a, b)
    old = trained.optim_wrapper.optimizer.state_dict()['state']
    new = resumed.optim_wrapper.optimizer.state_dict()['state']
    assert torch.equal(old[0]['momentum_buffer'], new[0]['momentum_buffer'])
    assert resumed.message_hub.get_scalar('train/loss').current() == \
        trained.message_hub.get_scalar('train/loss').current()


def test_non_checkpoint_file_io_is_mmengine_own(tmp_path):
    path = tmp_path / 'notes.txt'
    assert type(get_file_backend(str(path))) is LocalBackend
    put(b'plain bytes', str(path))
    assert get(str(path)) == b'plain bytes'
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask
    assert [p.name for p in tmp_path.iterdir()] == ['notes.txt']


def test_switch_off_keeps_mmengine_loader(tmp_path):
    code = ('import s4t_mm\n'
            'from mmengine.runner.checkpoint import CheckpointLoader, '
            'load_from_local\n'
            "print(CheckpointLoader._schemes[''] is load_from_local)")
    env = dict(os.environ, S4T_MM_SAFE_CHECKPOINTS='0', OMP_NUM_THREADS='1')
    out = subprocess.run([sys.executable, '-c', code], env=env, cwd=tmp_path,
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == 'True'


def test_switch_names_its_valid_values(monkeypatch):
    monkeypatch.setenv('S4T_MM_SAFE_CHECKPOINTS', 'off')
    with pytest.raises(ValueError, match="'off'.*expected 1.*or 0"):
        safe_checkpoints_requested()
    monkeypatch.setenv('S4T_MM_SAFE_CHECKPOINTS', '0')
    assert not safe_checkpoints_requested()
    monkeypatch.delenv('S4T_MM_SAFE_CHECKPOINTS')
    assert safe_checkpoints_requested()


def test_missing_checkpoint_names_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        load_checkpoint_file(os.path.join(tmp_path, 'nope.pth'))


def test_interrupted_write_leaves_the_previous_file_intact(tmp_path,
                                                           monkeypatch):
    from mmengine.runner.checkpoint import save_checkpoint
    path = tmp_path / 'iter_1.pth'
    atomic = dict(backend='atomic_local')
    save_checkpoint({'state_dict': {'w': torch.ones(3)}}, str(path),
                    backend_args=atomic)
    before = path.read_bytes()

    def interrupted_fsync(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, 'fsync', interrupted_fsync)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint({'state_dict': {'w': torch.zeros(1000)}}, str(path),
                        backend_args=atomic)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ['iter_1.pth']


def test_atomic_backend_keeps_the_previous_file(tmp_path, monkeypatch):
    path = tmp_path / 'results.json'
    backend = get_file_backend(str(path),
                               backend_args=dict(backend='atomic_local'))
    backend.put(b'{"a": 1}', str(path))
    monkeypatch.setattr(os, 'replace', lambda *a: (_ for _ in ()).throw(
        KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        backend.put(b'{"a": 2}', str(path))
    assert path.read_bytes() == b'{"a": 1}'
    assert [p.name for p in tmp_path.iterdir()] == ['results.json']


def test_state_dict_mismatch_names_tensor_shapes_and_class_count():
    model = torch.nn.Module()
    model.conv_out = torch.nn.Conv2d(4, 7, 1)
    theirs = {'conv_out.weight': torch.zeros(6, 4, 1, 1),
              'conv_out.bias': torch.zeros(6), 'extra': torch.zeros(1)}
    with pytest.raises(CheckpointMismatchError) as err:
        check_state_dict_fits(model, theirs, 'ckpt.pth')
    msg = str(err.value)
    assert 'conv_out.weight: checkpoint (6, 4, 1, 1), model (7, 4, 1, 1)' \
        in msg
    assert 'checkpoint head predicts 6 channels/classes, the config asks ' \
        'for 7' in msg
    assert "not in the model: ['extra']" in msg


def _net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))


def test_load_model_checkpoint_renames_keys_and_returns_meta(tmp_path):
    source = _net()
    with torch.no_grad():
        for p in source.parameters():
            p.add_(1.0)
    source[1].running_mean.fill_(0.25)
    path = tmp_path / 'wrapped.pth'
    torch.save({'state_dict': {f'module.{k}': v
                               for k, v in source.state_dict().items()},
                'meta': dict(epoch=np.int64(3))}, path)
    target = _net()
    checkpoint = load_model_checkpoint(target, str(path))
    assert checkpoint['meta']['epoch'] == 3
    for (name, a), b in zip(source.state_dict().items(),
                            target.state_dict().values()):
        assert torch.equal(a, b), name
    # another renaming: keys saved under 'encoder.'
    path = tmp_path / 'encoder.pth'
    torch.save({f'encoder.{k}': v for k, v in source.state_dict().items()},
               path)
    other = _net()
    load_model_checkpoint(other, str(path), revise_keys=[(r'^encoder\.', '')])
    assert torch.equal(other[0].weight, source[0].weight)


def test_load_model_checkpoint_refuses_before_loading(tmp_path):
    source = _net()
    state = source.state_dict()
    state['0.weight'] = torch.zeros(5, 3, 3, 3)
    path = tmp_path / 'bad.pth'
    torch.save(state, path)
    target = _net()
    before = target[0].bias.clone()
    with pytest.raises(CheckpointMismatchError,
                       match=r'0.weight: checkpoint \(5, 3, 3, 3\)'):
        load_model_checkpoint(target, str(path))
    assert torch.equal(target[0].bias, before)


def test_load_model_checkpoint_ignores_extra_keys_only_when_asked(tmp_path):
    source = _net()
    path = tmp_path / 'extra.pth'
    torch.save(dict(source.state_dict(), **{'fc.weight': torch.ones(2)}),
               path)
    with pytest.raises(CheckpointMismatchError, match='not in the model'):
        load_model_checkpoint(_net(), str(path))
    target = _net()
    with torch.no_grad():
        target[0].weight.zero_()
    load_model_checkpoint(target, str(path), ignore_extra_keys=True)
    assert torch.equal(target[0].weight, source[0].weight)


def test_refused_pickle_never_runs_through_load_model_checkpoint(tmp_path):
    marker = tmp_path / 'pwned'
    path = tmp_path / 'evil.pth'
    torch.save({'state_dict': {}, 'x': _RunsCode(str(marker))}, path)
    with pytest.raises(UnsafeCheckpointError):
        load_model_checkpoint(_net(), str(path))
    assert not marker.exists()


def test_fresh_process_loads_history_buffers(tmp_path):
    """A process that has created no HistoryBuffer yet (a tool that only
    loads a Runner checkpoint) still reads one."""
    from mmengine.logging import HistoryBuffer
    buffer = HistoryBuffer()
    buffer.update(2.5)
    path = tmp_path / 'iter_1.pth'
    torch.save({'message_hub': {'log_scalars': {'loss': buffer}}}, str(path))
    code = ('import s4t_mm\n'
            'from s4t_mm.fileio import load_checkpoint_file\n'
            f'ckpt = load_checkpoint_file({str(path)!r})\n'
            "print(ckpt['message_hub']['log_scalars']['loss'].current())")
    env = dict(os.environ, OMP_NUM_THREADS='1')
    out = subprocess.run([sys.executable, '-c', code], env=env, cwd=tmp_path,
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == '2.5'
