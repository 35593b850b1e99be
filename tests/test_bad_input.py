"""Every kind of bad input ends in an error that names the bad thing and
what would be valid (issue: reliability). One test per case."""
import logging

import numpy as np
import pytest
from mmengine.logging import MMLogger

from s4t_mm.registry import DATASETS, HOOKS, MODELS
from .test_datasets.test_nyud import write_nyud
from .test_models.utils import synthetic_batch, tiny_model_cfg


def _nyud(root, pipeline=None):
    return DATASETS.build(dict(
        type='NYUDMultiTaskDataset', data_root=str(root), split='val',
        pipeline=pipeline or [dict(type='LoadImageFromFile'),
                              dict(type='LoadMultiTaskAnnotations')]))


def test_missing_data_root(tmp_path):
    with pytest.raises(FileNotFoundError, match='nowhere'):
        _nyud(tmp_path / 'nowhere')


def test_missing_image_file_is_named(tmp_path):
    write_nyud(tmp_path)
    (tmp_path / 'images' / 'a.png').unlink()
    with pytest.raises(FileNotFoundError, match=r'a\.png|a\.jpg'):
        _nyud(tmp_path)[0]


def test_truncated_image_file_is_named(tmp_path):
    write_nyud(tmp_path)
    path = tmp_path / 'images' / 'a.png'
    path.write_bytes(path.read_bytes()[:20])
    with pytest.raises(AssertionError, match='failed to load image: .*a.png'):
        _nyud(tmp_path)[0]


def test_undecodable_label_file_is_named(tmp_path):
    write_nyud(tmp_path)
    (tmp_path / 'segmentation' / 'a.png').write_bytes(b'not a png at all')
    with pytest.raises(ValueError, match=r'segmentation/a\.png'):
        _nyud(tmp_path)[0]


def test_label_map_of_the_wrong_shape(tmp_path):
    write_nyud(tmp_path)
    from PIL import Image
    Image.fromarray(np.zeros((3, 3), np.uint8)).save(
        tmp_path / 'segmentation' / 'a.png')
    with pytest.raises(ValueError, match=r'a\.png.*\(3, 3\)'):
        _nyud(tmp_path)[0]


def test_label_value_out_of_range_names_the_class_range():
    model = MODELS.build(tiny_model_cfg())
    batch = synthetic_batch()
    batch['data_samples'][0].gt_semseg.data[0, 3, 3] = 9
    data = model.data_preprocessor(batch, training=True)
    with pytest.raises(ValueError, match=r'class id 9 is outside 0..3'):
        model.loss(**data)


def test_unknown_task():
    with pytest.raises(ValueError, match=r"unknown tasks \['nromals'\]"):
        DATASETS.build(dict(type='SyntheticWorldDataset',
                            tasks=['semseg', 'nromals'], num_samples=1))


def test_unknown_method():
    with pytest.raises(ValueError, match="unknown adapter 'S4T'; valid: "
                       ".*S4TAdapter"):
        HOOKS.build(dict(type='TestTimeAdaptHook', adapter=dict(type='S4T')))


def test_unknown_protocol():
    with pytest.raises(ValueError, match="unknown protocol 'streaming'; "
                       'valid: paper, episodic, online, reset_every'):
        HOOKS.build(dict(type='TestTimeAdaptHook',
                         adapter=dict(type='S4TAdapter'),
                         protocol='streaming'))


def test_unknown_config_key():
    with pytest.raises(ValueError, match=r"unknown protocol key\(s\) "
                       r"\['stpes'\] for EpisodicProtocol; valid: steps"):
        HOOKS.build(dict(type='TestTimeAdaptHook',
                         adapter=dict(type='S4TAdapter'),
                         protocol=dict(type='episodic', stpes=3)))
    with pytest.raises(ValueError, match=r"unknown adapter key\(s\) "
                       r"\['lrr'\] for S4TAdapter; valid: .*optimizer"):
        HOOKS.build(dict(type='TestTimeAdaptHook',
                         adapter=dict(type='S4TAdapter', lrr=0.1)))


def test_empty_target_set():
    from types import SimpleNamespace
    from torch.utils.data import DataLoader
    model = MODELS.build(tiny_model_cfg(relation=True))
    hook = HOOKS.build(dict(type='TestTimeAdaptHook',
                            adapter=dict(type='S4TAdapter'),
                            protocol=dict(type='paper', steps=1)))
    runner = SimpleNamespace(model=model, test_dataloader=DataLoader(
        [], batch_size=2, collate_fn=lambda x: x))
    with pytest.raises(ValueError, match='the target set is empty'):
        hook.before_test(runner)


def test_non_finite_input_values():
    model = MODELS.build(tiny_model_cfg())
    batch = synthetic_batch(n=1)
    batch['inputs'][0] = batch['inputs'][0].float()
    batch['inputs'][0][0, 0, 0] = float('inf')
    with pytest.raises(ValueError, match='has NaN or infinite values'):
        model.data_preprocessor(batch)


def test_batch_of_one_with_batch_statistics_warns():
    model = MODELS.build(tiny_model_cfg(relation=True))
    adapter = HOOKS.build(dict(type='TestTimeAdaptHook',
                               adapter=dict(type='S4TAdapter'))).adapter
    adapter.bind(model)
    warnings = []
    handler = logging.Handler(level=logging.WARNING)
    handler.emit = lambda record: warnings.append(record.getMessage())
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    try:
        adapter.adapt(
            model.data_preprocessor(synthetic_batch(n=1))['inputs'], steps=1)
    finally:
        logger.removeHandler(handler)
    assert any('a batch of one image cannot give batch statistics' in w
               and 'source running statistics' in w for w in warnings)
    assert adapter.stats['single_image_batches'] == 1
