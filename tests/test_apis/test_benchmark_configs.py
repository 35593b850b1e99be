"""The configs a method table's benchmark writes and runs
(:func:`s4t_mm.apis.benchmark.method_configs`) are the table's: read back,
every dict keeps the table's key order.

mmengine's ``Config.dump`` sorts the keys of every dict. The model's task
order is the order of ``model.heads`` (semseg, depth, normals, edge), and it
lays out the relation predictor's channels; sorted (depth, edge, normals,
semseg), a checkpoint still loads without a complaint, but every relation
channel then belongs to another task. Source-only and BN-adapt do not
notice; S4T adapts on scrambled reconstructions (the demo's S4T rows on
target_warm fell from +42.51 to +37.69 %)."""
import pytest
import torch
from mmengine.config import Config

from s4t_mm.apis import run_domains
from s4t_mm.apis.benchmark import method_configs
from s4t_mm.fileio import load_model_checkpoint
from s4t_mm.registry import MODELS
from s4t_mm.utils import register_all_modules
from ..test_tta.tiny_runner import (TARGETS, TASKS, save_tiny_checkpoint,
                                    tiny_tta_cfg)

S4T = dict(type='S4TAdapter', optimizer=dict(type='SGD', lr=0.05))
PROTOCOL = dict(type='paper', steps=2, num_batches=1, seed=0)
WARM = [TARGETS[0]]


@pytest.fixture(scope='module')
def ckpt(tmp_path_factory):
    register_all_modules(init_default_scope=False)
    return save_tiny_checkpoint(tmp_path_factory.mktemp('ckpt') / 'w.pth')


def _table(tmp_path) -> Config:
    """A method table of the tiny model (tasks not in sorted order)."""
    table = tiny_tta_cfg(tmp_path / 'work', tmp_path / 'cache')
    table.pop('custom_hooks')
    table.merge_from_dict(dict(protocol=PROTOCOL, methods=dict(s4t=S4T)))
    assert list(table.model.heads) == TASKS != sorted(TASKS)
    return table


def _as_run(table: Config) -> Config:
    """The table with its S4T hook, in memory: what the table says."""
    cfg = Config(dict(table.to_dict(), custom_hooks=[dict(
        type='TestTimeAdaptHook', adapter=S4T, protocol=PROTOCOL)]))
    cfg.pop('methods')
    return cfg


def _sorted(cfg: Config, path) -> Config:
    """``cfg`` through mmengine's dump (every dict's keys sorted)."""
    cfg.dump(str(path))
    return Config.fromfile(str(path))


def _reconstructions(cfg: Config, ckpt: str) -> dict:
    """The checkpoint's relation predictor on a fixed tiny input: every
    task's reconstruction from all patches."""
    model = MODELS.build(cfg.model)
    load_model_checkpoint(model, ckpt)
    model.eval()
    predictor = model.relation_predictor
    torch.manual_seed(0)
    feats = [torch.randn(2, predictor.compressor.in_channels, 8, 8)]
    with torch.no_grad():
        return predictor.reconstruct(predictor.compress(feats),
                                     mask_ratio=0.0)


def test_written_config_keeps_the_task_order(tmp_path, ckpt):
    table = _table(tmp_path)
    (path, ) = method_configs(table, ['s4t'], str(tmp_path / 'configs'))
    written = Config.fromfile(path)
    assert list(written.model.heads) == TASKS
    (hook, ) = written.custom_hooks
    assert hook.adapter == S4T and hook.protocol == PROTOCOL
    assert MODELS.build(written.model).relation_predictor.tasks == TASKS

    expected = _reconstructions(_as_run(table), ckpt)
    got = _reconstructions(written, ckpt)
    assert list(got) == TASKS
    for task in TASKS:
        assert torch.equal(got[task], expected[task]), task
    # the sorted dump scrambles them (so the equality above is not vacuous)
    scrambled = _reconstructions(_sorted(written, tmp_path / 's.py'), ckpt)
    assert not torch.equal(scrambled['semseg'], expected['semseg'])


def test_written_config_adapts_as_the_table_says(tmp_path, ckpt):
    """S4T run from the written config gives the numbers of the table's
    own config; from the sorted dump, other numbers."""
    table = _table(tmp_path)
    (path, ) = method_configs(table, ['s4t'], str(tmp_path / 'configs'))

    def adapted(cfg, name):
        return run_domains(cfg, ckpt, WARM, adapt=True, seed=0,
                           work_dir=str(tmp_path / name),
                           name=name)['warm']['metrics']

    expected = adapted(_as_run(table), 'table')
    assert adapted(Config.fromfile(path), 'written') == expected
    scrambled = adapted(_sorted(_as_run(table), tmp_path / 's.py'),
                        'sorted')
    assert scrambled != expected
