"""The task order travels with the checkpoint: a model whose config lists
the same heads in another order loads it with the relation predictor's
channel blocks permuted to match (through mmengine's Runner, our loader and
torch's), other tasks are refused, and a checkpoint without the order loads
as before with a warning."""
import itertools
from collections import OrderedDict

import pytest
import torch
from mmengine.logging import MMLogger
from mmengine.runner import Runner
from mmengine.runner.checkpoint import (get_state_dict, save_checkpoint,
                                        weights_to_cpu)

from s4t_mm.fileio import load_model_checkpoint
from s4t_mm.models.mtl_models.task_order import TaskOrderMismatchError
from s4t_mm.registry import MODELS
from .utils import TINY_FUSED_CHANNELS, synthetic_batch, tiny_model_cfg

_RUN_IDS = itertools.count()


def _cfg(order, **kwargs):
    cfg = tiny_model_cfg(relation=True, **kwargs)
    cfg['heads'] = {task: cfg['heads'][task] for task in order}
    return cfg


ORDER = ('semseg', 'depth', 'normals', 'edge')
REVERSED = ORDER[::-1]


def _source(order=ORDER, **kwargs):
    torch.manual_seed(42)
    return MODELS.build(_cfg(order, **kwargs))


def _save(model, path):
    """A checkpoint as mmengine's Runner writes one."""
    save_checkpoint(dict(meta={}, state_dict=weights_to_cpu(
        get_state_dict(model))), str(path))
    return str(path)


def _reconstructions(model):
    """Every task's relation reconstruction and auxiliary output on a fixed
    batch and mask."""
    model.eval()
    inputs = model.data_preprocessor(synthetic_batch(n=2))['inputs']
    with torch.no_grad():
        out = model.relation_consistency(
            inputs, generator=torch.Generator().manual_seed(0),
            outputs=('reconstructed', 'aux'))
    return {task: torch.cat([out.reconstructed[task], out.aux[task]], 1)
            for task in ORDER}


def _runner_load(tmp_path, order, checkpoint, **kwargs):
    """The model of a config listing the heads in ``order``, its weights
    loaded by mmengine's Runner from ``load_from``."""
    torch.manual_seed(0)  # another initialisation than the source's
    runner = Runner(model=_cfg(order, **kwargs), work_dir=str(tmp_path),
                    load_from=checkpoint, default_scope='s4t_mm',
                    experiment_name=f'task_order_{next(_RUN_IDS)}',
                    log_level='WARNING')
    runner.load_or_resume()
    return runner.model


def _max_difference(a, b):
    return max(float((a[t] - b[t]).abs().max()) for t in ORDER)


def test_the_checkpoint_records_the_task_order_and_channels(tmp_path):
    model = _source()
    meta = torch.load(_save(model, tmp_path / 'src.pth'),
                      weights_only=True)['state_dict']._metadata['']
    assert meta['task_order'] == list(ORDER)
    assert meta['task_channels'] == dict(semseg=4, depth=1, normals=3,
                                         edge=1)


def test_runner_loads_reversed_heads_with_the_same_reconstructions(
        tmp_path):
    source = _source()
    expected = _reconstructions(source)
    checkpoint = _save(source, tmp_path / 'src.pth')
    loaded = _runner_load(tmp_path, REVERSED, checkpoint)
    assert loaded.tasks == list(REVERSED)
    assert _max_difference(_reconstructions(loaded), expected) < 1e-5


def test_our_loader_and_torch_load_reversed_heads_alike(tmp_path):
    source = _source(loss_combiner=dict(type='UncertaintyWeightCombiner'))
    with torch.no_grad():
        source.loss_combiner.scales.copy_(torch.tensor([1., 2., 3., 4.]))
    expected = _reconstructions(source)
    checkpoint = _save(source, tmp_path / 'src.pth')
    ours = MODELS.build(_cfg(REVERSED, loss_combiner=dict(
        type='UncertaintyWeightCombiner')))
    load_model_checkpoint(ours, checkpoint)
    theirs = MODELS.build(_cfg(REVERSED, loss_combiner=dict(
        type='UncertaintyWeightCombiner')))
    theirs.load_state_dict(source.state_dict())
    for model in (ours, theirs):
        assert _max_difference(_reconstructions(model), expected) < 1e-5
        # the learned task weights follow their tasks too
        assert [model.task_weight(t) for t in ORDER] == [
            source.task_weight(t) for t in ORDER]


def test_a_checkpoint_without_the_order_loads_as_before_with_a_warning(
        tmp_path, capsys):
    source = _source()
    expected = _reconstructions(source)
    old = OrderedDict(source.state_dict())  # no metadata, as before
    checkpoint = str(tmp_path / 'old.pth')
    torch.save(dict(meta={}, state_dict=old), checkpoint)
    same = _runner_load(tmp_path, ORDER, checkpoint)
    assert _max_difference(_reconstructions(same), expected) == 0
    logger = MMLogger.get_current_instance()
    logger.setLevel('WARNING')
    scrambled = MODELS.build(_cfg(REVERSED))
    load_model_checkpoint(scrambled, checkpoint)
    assert 'does not record its task order' in capsys.readouterr().out
    # what the metadata prevents: every relation channel on another task
    assert _max_difference(_reconstructions(scrambled), expected) > 0.1


def test_other_tasks_or_channels_are_refused_naming_both(tmp_path):
    checkpoint = _save(_source(), tmp_path / 'src.pth')
    heads = dict(tiny_model_cfg()['heads'])
    heads['saliency'] = dict(type='SaliencyHead',
                             in_channels=TINY_FUSED_CHANNELS)
    del heads['edge']
    other = MODELS.build(tiny_model_cfg(relation=True, heads=heads))
    with pytest.raises(TaskOrderMismatchError, match=r"tasks \{'semseg': 4, "
                       r"'depth': 1, 'normals': 3, 'edge': 1\}.*this model "
                       r"has \{'semseg': 4, 'depth': 1, 'normals': 3, "
                       r"'saliency': 1\}"):
        other.load_state_dict(torch.load(checkpoint)['state_dict'])
