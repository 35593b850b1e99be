"""Two CPU processes (torchrun, gloo) give the same episodic results as one,
with batches that two ranks cannot split evenly. ``torchrun`` is run as
``python -m torch.distributed.run`` of this interpreter, so the test runs
wherever torch is installed, whether or not the script is on PATH."""
import json
import os.path as osp
import socket
import subprocess
import sys

import pytest

from .test_train_and_adapt import ROOT, _run, _write_config


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def test_episodic_protocol_matches_one_process(tmp_path):
    # 8 test images in batches of 3: rank 0 adapts on batches 0 and 2 (5
    # images), rank 1 on batch 1 (3); BatchNorm uses batch statistics, so
    # the results match only if the ranks get the one-process batches
    cfg = _write_config(tmp_path, 3, protocol="dict(type='episodic', "
                        "steps=2)", batch_size=3)
    work = tmp_path / 'work'
    _run(['tools/train.py', cfg, '--work-dir', str(work)])
    ckpt = str(work / 'iter_3.pth')
    one = tmp_path / 'one.json'
    _run(['tools/test_time_adapt.py', cfg, '--checkpoint', ckpt,
          '--work-dir', str(tmp_path / 'w1'), '--out', str(one)])
    two = tmp_path / 'two.json'
    # from tmp_path: mmengine's result collection writes .dist_test/ into
    # the working directory
    out = subprocess.run(
        [sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node',
         '2', '--master_port', str(_free_port()),
         osp.join(ROOT, 'tools', 'test_time_adapt.py'), cfg, '--checkpoint',
         ckpt, '--work-dir', str(tmp_path / 'w2'), '--out', str(two),
         '--launcher', 'pytorch'],
        cwd=str(tmp_path), capture_output=True, text=True)
    log = out.stdout + out.stderr
    assert out.returncode == 0, log[-3000:]
    assert 'Distributed training: True' in log, log[-3000:]
    a, b = json.loads(one.read_text()), json.loads(two.read_text())
    for domain in a['domains']:
        for kind in ('source', 'adapted'):
            for key, value in a['domains'][domain][kind].items():
                assert b['domains'][domain][kind][key] == pytest.approx(
                    value, rel=1e-5, abs=1e-6), (domain, kind, key)
