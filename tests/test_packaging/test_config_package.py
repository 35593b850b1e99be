"""``s4t_mm::`` inheritance in the checkout's (editable) install, and that
the hook leaves mmengine's other scopes alone."""
import os.path as osp

import mmengine.config.config as mmengine_config
import pytest
from mmengine.config import Config
from mmengine.config.utils import MODULE2PACKAGE

import s4t_mm
from s4t_mm.config_package import PACKAGE_MODULE, register_config_package

PACKAGE_DIR = osp.dirname(s4t_mm.__file__)
MIM_CONFIGS = osp.join(PACKAGE_DIR, '.mim', 'configs')
needs_mim = pytest.mark.skipif(
    not osp.isdir(MIM_CONFIGS),
    reason='s4t_mm/.mim is made by setup.py (pip install -e .)')


def test_s4t_mm_paths_resolve_to_the_imported_package():
    resolve = mmengine_config._get_package_and_cfg_path
    assert resolve('s4t_mm::s4t/synthetic_r18_s4t_tta.py') == (
        PACKAGE_MODULE, 's4t/synthetic_r18_s4t_tta.py')
    assert mmengine_config.get_installed_path(PACKAGE_MODULE) == PACKAGE_DIR
    # other scopes: mmengine's answers and errors, and its table untouched
    assert resolve('mmseg::fcn/fcn.py') == ('mmsegmentation', 'fcn/fcn.py')
    with pytest.raises(AssertionError, match='not support to load mmfoo'):
        resolve('mmfoo::a/b.py')
    with pytest.raises(ValueError, match='multiple `::`'):
        resolve('s4t_mm::a/b::c.py')
    assert 's4t_mm' not in MODULE2PACKAGE
    register_config_package()  # a second call wraps nothing again
    assert mmengine_config._get_package_and_cfg_path is resolve


@needs_mim
def test_a_downstream_config_inherits_from_the_package(tmp_path):
    path = tmp_path / 'downstream.py'
    path.write_text(
        "_base_ = ['s4t_mm::s4t/synthetic_r18_s4t_tta.py']\n"
        "model = dict(relation_loss_weight=0.5)\n")
    cfg = Config.fromfile(str(path))
    assert cfg.model.relation_loss_weight == 0.5
    assert cfg.model.backbone.type == 'mmseg.ResNetV1c'  # from its bases
    assert cfg.custom_hooks[0].adapter.type == 'S4TAdapter'
    assert cfg.target_domains[0].name == 'target_warm'


@needs_mim
def test_mim_files_are_the_checkout_s():
    repo = osp.dirname(PACKAGE_DIR)
    for name in ('configs', 'tools', 'model-index.yml'):
        assert osp.samefile(osp.join(PACKAGE_DIR, '.mim', name),
                            osp.join(repo, name))
