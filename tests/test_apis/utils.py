"""A small S4T model of the embedded world, its checkpoint and the
scikit-image photographs the inferencer tests run on."""
import numpy as np
import skimage.data
import torch
from mmengine.config import Config

from s4t_mm.datasets import SyntheticWorldDataset
from s4t_mm.registry import MODELS

CONFIG = 'configs/s4t/synthetic_r18_s4t_tta.py'
TASKS = ['semseg', 'depth', 'normals', 'edge']


def small_cfg() -> Config:
    """The embedded S4T config with a backbone of half its width (stages
    of 8..64 channels), so an adaptation step on a photo takes a moment."""
    cfg = Config.fromfile(CONFIG)
    cfg.model.backbone.update(base_channels=8, stem_channels=8)
    fused = 8 + 16 + 32 + 64
    for head in cfg.model.heads.values():
        head.in_channels = fused
    cfg.model.relation_predictor.in_channels = fused
    return cfg


def save_checkpoint(path, seed: int = 0) -> str:
    """The small model's weights with the dataset's classes and palette,
    as a trained checkpoint carries them."""
    torch.manual_seed(seed)
    model = MODELS.build(small_cfg().model)
    meta = dict(dataset_meta=dict(SyntheticWorldDataset.METAINFO))
    torch.save(dict(state_dict=model.state_dict(), meta=meta), str(path))
    return str(path)


def motorcycle_bgr() -> np.ndarray:
    """The left image of the Middlebury motorcycle pair, 500x741, BGR."""
    return np.ascontiguousarray(skimage.data.stereo_motorcycle()[0][..., ::-1])


def chelsea_bgr() -> np.ndarray:
    """scikit-image's cat, 300x451, BGR."""
    return np.ascontiguousarray(skimage.data.chelsea()[..., ::-1])
