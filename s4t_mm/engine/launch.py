"""Config touches shared by the tools: work dir, AMP, distributed launch."""
import logging
import os
import os.path as osp

import torch
import torch.distributed as dist
from mmengine.config import Config
from mmengine.logging import print_log


def default_work_dir(cfg: Config, config_path: str, work_dir: str = None):
    """CLI ``--work-dir`` > ``work_dir`` in the config >
    ``./work_dirs/<config name>``."""
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(config_path))[0])


def enable_amp(cfg: Config) -> None:
    """Mixed precision: mmengine's ``AmpOptimWrapper`` (fp16 with dynamic
    loss scaling) on CUDA, :class:`AutocastOptimWrapper` (bf16) on CPU."""
    wrapper = cfg.optim_wrapper.get('type', 'OptimWrapper')
    if wrapper in ('AmpOptimWrapper', 'AutocastOptimWrapper'):
        print_log('AMP is already enabled in the config', logger='current',
                  level=logging.WARNING)
        return
    if wrapper != 'OptimWrapper':
        raise ValueError(f'--amp needs optim_wrapper.type OptimWrapper, the '
                         f'config has {wrapper!r}')
    if torch.cuda.is_available():
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.loss_scale = 'dynamic'
    else:
        cfg.optim_wrapper.type = 'AutocastOptimWrapper'
        cfg.optim_wrapper.dtype = 'bfloat16'


def setup_launcher(cfg: Config, launcher: str) -> None:
    """Prepare distributed runs, also on CPU-only machines.

    mmengine 0.10.7 initialises the process group with a CUDA device and
    wraps the model with ``device_ids=[LOCAL_RANK]``, both of which fail
    without a GPU. On such machines the gloo group is created here (the
    Runner then skips its own) and the wrapper gets ``device_ids=None``.
    """
    cfg.launcher = launcher
    if launcher == 'none' or torch.cuda.is_available():
        return
    if launcher != 'pytorch':
        raise ValueError(f'launcher {launcher!r} needs GPUs; on CPU use '
                         "'pytorch' (torchrun) or 'none'")
    if not dist.is_initialized():
        dist.init_process_group(backend='gloo')
    cfg.setdefault('model_wrapper_cfg',
                   dict(type='MMDistributedDataParallel', device_ids=None))
    os.environ.setdefault('LOCAL_RANK', str(dist.get_rank()))


def load_tool_config(config: str, checkpoint: str = None,
                     work_dir: str = None, cfg_options: dict = None
                     ) -> Config:
    """The config of a ``tools/`` entry point: checks the checkpoint exists,
    applies ``--cfg-options`` and the work-dir rule."""
    if checkpoint is not None and not osp.isfile(checkpoint):
        raise FileNotFoundError(
            f'checkpoint {checkpoint!r} does not exist; train one with '
            'tools/train.py or pass the path of a .pth file')
    cfg = Config.fromfile(config)
    if cfg_options is not None:
        cfg.merge_from_dict(cfg_options)
    default_work_dir(cfg, config, work_dir)
    return cfg
