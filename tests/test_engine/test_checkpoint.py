import os

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner.checkpoint import _load_checkpoint

from s4t_mm.engine import UnsafeCheckpointError, load_checkpoint_file


class _RunsCode:
    """Unpickling this creates a file: stands for arbitrary code."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, 'w'))


def test_checkpoint_that_would_run_code_is_refused(tmp_path):
    marker = tmp_path / 'pwned'
    path = tmp_path / 'evil.pth'
    torch.save({'state_dict': {'w': torch.zeros(1)},
                'meta': _RunsCode(str(marker))}, path)
    with pytest.raises(UnsafeCheckpointError, match='refused to load'):
        load_checkpoint_file(str(path))
    # through mmengine's loader (what Runner.load_checkpoint uses) as well
    with pytest.raises(UnsafeCheckpointError):
        _load_checkpoint(str(path), map_location='cpu')
    assert not marker.exists()


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
    loaded = _load_checkpoint(str(path), map_location='cpu')
    assert loaded['meta']['seed'] == 3
    assert np.array_equal(loaded['meta']['arr'], np.arange(3))
    assert loaded['message_hub']['log_scalars']['loss'].current() == 1.5
    assert torch.equal(loaded['state_dict']['w'], torch.ones(2))


def test_missing_checkpoint_names_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        load_checkpoint_file(os.path.join(tmp_path, 'nope.pth'))


def test_interrupted_write_leaves_the_previous_file_intact(tmp_path,
                                                           monkeypatch):
    from mmengine.runner.checkpoint import save_checkpoint
    path = tmp_path / 'iter_1.pth'
    save_checkpoint({'state_dict': {'w': torch.ones(3)}}, str(path))
    before = path.read_bytes()

    def interrupted_fsync(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, 'fsync', interrupted_fsync)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint({'state_dict': {'w': torch.zeros(1000)}}, str(path))
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ['iter_1.pth']


def test_results_json_is_written_atomically(tmp_path, monkeypatch):
    from s4t_mm.utils import dump_json_atomic
    path = tmp_path / 'results.json'
    dump_json_atomic({'a': 1}, str(path))
    monkeypatch.setattr(os, 'replace', lambda *a: (_ for _ in ()).throw(
        KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        dump_json_atomic({'a': 2}, str(path))
    assert path.read_text().strip().replace(' ', '').replace('\n', '') \
        == '{"a":1}'
    assert [p.name for p in tmp_path.iterdir()] == ['results.json']


def test_state_dict_mismatch_names_tensor_shapes_and_class_count():
    from s4t_mm.engine.checkpoint import check_state_dict_fits
    model = torch.nn.Module()
    model.conv_out = torch.nn.Conv2d(4, 7, 1)
    theirs = {'conv_out.weight': torch.zeros(6, 4, 1, 1),
              'conv_out.bias': torch.zeros(6), 'extra': torch.zeros(1)}
    with pytest.raises(ValueError) as err:
        check_state_dict_fits(model, theirs, 'ckpt.pth')
    msg = str(err.value)
    assert 'conv_out.weight: checkpoint (6, 4, 1, 1), model (7, 4, 1, 1)' \
        in msg
    assert 'checkpoint head predicts 6 channels/classes, the config asks ' \
        'for 7' in msg
    assert "not in the model: ['extra']" in msg
