"""What an inference run takes from its config: the training scale, and
the adapter and protocol a user names (tools/adapt_images.py's choices)."""
import pytest
from mmengine.config import Config

from s4t_mm.apis.inference_setup import adaptation_cfgs, training_scale
from .utils import CONFIG


def test_training_scale_reads_crops_resizes_and_img_size():
    def scale(pipeline=(), **dataset):
        return training_scale(Config(dict(train_dataloader=dict(
            dataset=dict(pipeline=list(pipeline), **dataset)))))

    crop = dict(type='MultiTaskRandomCrop', crop_size=(448, 576))
    resize = dict(type='MultiTaskRandomResize', scale=(640, 480),
                  ratio_range=(1.0, 1.2))
    assert scale([resize, crop]) == (576, 448)  # crops are (h, w)
    assert scale([resize]) == (640, 480)  # resize scales (w, h)
    assert scale(img_size=128) == (128, 128)
    assert scale([dict(type='MultiTaskRandomResize',
                       scale=[(320, 240), (640, 480)])]) is None
    assert scale() is None


def test_adaptation_cfgs_take_the_configs_settings_where_they_apply():
    cfg = Config.fromfile(CONFIG)
    hook = next(h for h in cfg.custom_hooks
                if h['type'] == 'TestTimeAdaptHook')
    # nothing named: the config's adapter and protocol (its steps)
    adapter, protocol = adaptation_cfgs(cfg, batch_size=3)
    assert adapter == hook['adapter']
    assert protocol == dict(type='paper', steps=hook['protocol']['steps'],
                            num_batches=1, shuffle=False, batch_size=3)
    # the config's adapter by name (its learning rate); another adapter
    # with its defaults; none
    assert adaptation_cfgs(cfg, method='s4t')[0] == hook['adapter']
    assert adaptation_cfgs(cfg, method='tent')[0] == dict(type='TentAdapter')
    assert adaptation_cfgs(cfg, method='none')[0] is None
    # another protocol does not take the config's steps
    assert adaptation_cfgs(cfg, protocol='online')[1] == dict(type='online')
    assert adaptation_cfgs(cfg, protocol='episodic', steps=2)[1] == dict(
        type='episodic', steps=2)
    assert adaptation_cfgs(cfg, adapt_images=6, steps=1)[1] == dict(
        type='paper', steps=1, num_batches=1, shuffle=False, batch_size=6)
    no_hook = Config(dict(custom_hooks=[]))
    assert adaptation_cfgs(no_hook) == (None, dict(
        type='paper', num_batches=1, shuffle=False, batch_size=4))


def test_adaptation_cfgs_errors_name_the_valid_choices():
    cfg = Config.fromfile(CONFIG)
    with pytest.raises(ValueError, match="'sar'; valid: s4t, tent, bn, none"):
        adaptation_cfgs(cfg, method='sar')
    with pytest.raises(ValueError, match='valid: paper, episodic, online'):
        adaptation_cfgs(cfg, protocol='reset_every')
    with pytest.raises(ValueError, match='only applies to the paper'):
        adaptation_cfgs(cfg, protocol='online', adapt_images=4)
