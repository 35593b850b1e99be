"""What the tools share: their common flags (one spelling each, older ones
kept as aliases), work dir, AMP, distributed launch."""
import argparse
import logging
import os
import os.path as osp
from typing import Optional, Sequence

import torch
import torch.distributed as dist
from mmengine.config import Config, DictAction
from mmengine.logging import print_log

LAUNCHERS = ('none', 'pytorch', 'slurm', 'mpi')


def add_common_args(parser: argparse.ArgumentParser,
                    seeds: Optional[Sequence[int]] = (0, ),
                    domains: Optional[str] = 'target_domains',
                    launcher: bool = True,
                    work_dir_required: bool = False,
                    with_seeds: bool = True,
                    with_domains: bool = True,
                    with_cfg_options: bool = True) -> None:
    """The flags every tool in ``tools/`` spells and means the same way:

    - ``--work-dir``: where logs and results go (``--out-dir``, an older
      spelling, is the same flag);
    - ``--seeds``: adaptation seeds, one run each; a seed sets the
      adapter's random draws and the paper protocol's adaptation batch
      (``--seed`` is the same flag);
    - ``--domains``: the config key of the target domain list
      (``--domains-key`` is the same flag);
    - ``--launcher`` (and ``--local-rank``): the job launcher, ``pytorch``
      under torchrun (:func:`apply_launcher`);
    - ``--cfg-options``: ``key=value`` overrides of the config;
    - and, added by :func:`add_checkpoint_arg`, ``--checkpoint``.

    ``seeds`` and ``domains`` are the defaults (None: the tool decides);
    ``with_seeds=False`` / ``with_domains=False`` / ``launcher=False`` /
    ``with_cfg_options=False`` leave a flag out of a tool that has no use
    for it.
    """
    parser.add_argument('--work-dir', '--out-dir', dest='work_dir',
                        required=work_dir_required,
                        help='where logs and results go')
    if with_seeds:
        parser.add_argument('--seeds', '--seed', dest='seeds', type=int,
                            nargs='+',
                            default=None if seeds is None else list(seeds),
                            help='adaptation seeds, one run each: a seed '
                            "sets the adapter's random draws and the paper "
                            "protocol's adaptation batch")
    if with_domains:
        parser.add_argument('--domains', '--domains-key', dest='domains',
                            default=domains,
                            help='config key of the target domain list, '
                            'e.g. validation_domains to choose '
                            'hyper-parameters')
    if with_cfg_options:
        parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                            help='override config keys, e.g. '
                            'train_cfg.max_iters=10')
    if launcher:
        parser.add_argument('--launcher', default='none', choices=LAUNCHERS,
                            help='job launcher; pytorch under torchrun')
        parser.add_argument('--local_rank', '--local-rank', type=int,
                            default=0)


def add_checkpoint_arg(parser: argparse.ArgumentParser,
                       several: bool = False,
                       positional: bool = False) -> None:
    """``--checkpoint``: the source-trained checkpoint, required
    (``several``: one or more, e.g. one per config); ``--checkpoints`` is
    the same flag. With ``positional`` it may also come as the positional
    argument after the config, as in mmseg's ``tools/test.py CONFIG
    CHECKPOINT``; call :func:`resolve_checkpoint` after parsing."""
    parser.add_argument('--checkpoint', '--checkpoints', dest='checkpoint',
                        nargs='+' if several else None,
                        required=not positional,
                        help='source-trained checkpoint' +
                        ('(s): one per config, or one for all'
                         if several else ''))
    if positional:
        parser.add_argument('checkpoint_positional', metavar='CHECKPOINT',
                            nargs='*' if several else '?',
                            help='the same as --checkpoint')


def resolve_checkpoint(parser: argparse.ArgumentParser, args) -> None:
    """``args.checkpoint`` from ``--checkpoint`` or the positional spelling
    of :func:`add_checkpoint_arg`; exactly one of them must be given."""
    positional = args.checkpoint_positional
    del args.checkpoint_positional
    if positional and args.checkpoint:
        parser.error(f'the checkpoint is given twice ({positional!r} and '
                     f'--checkpoint {args.checkpoint!r}); give it once')
    args.checkpoint = positional or args.checkpoint
    if not args.checkpoint:
        parser.error('a checkpoint is required: --checkpoint CKPT')


def check_checkpoint(checkpoint: str) -> None:
    """Raise unless ``checkpoint`` is a file, saying how to make one."""
    if not osp.isfile(checkpoint):
        raise FileNotFoundError(
            f'checkpoint {checkpoint!r} does not exist; train one with '
            'tools/train.py or pass the path of a .pth file')


def one_seed(parser: argparse.ArgumentParser, args) -> int:
    """The single seed of a tool that runs one (``--seeds S``)."""
    if len(args.seeds) != 1:
        parser.error(f'this tool runs one seed; got --seeds {args.seeds}')
    return args.seeds[0]


def apply_launcher(cfg: Config, args) -> None:
    """``--launcher`` and ``--local-rank`` of :func:`add_common_args` into
    ``cfg`` (:func:`setup_launcher`)."""
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    setup_launcher(cfg, args.launcher)


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
    if checkpoint is not None:
        check_checkpoint(checkpoint)
    cfg = Config.fromfile(config)
    if cfg_options is not None:
        cfg.merge_from_dict(cfg_options)
    default_work_dir(cfg, config, work_dir)
    return cfg


def config_from_args(args) -> Config:
    """:func:`load_tool_config` from a tool's parsed ``config``,
    ``checkpoint``, ``work_dir`` and ``cfg_options``, with the tool's
    ``--launcher`` set up (:func:`apply_launcher`) if it has one."""
    cfg = load_tool_config(args.config, args.checkpoint, args.work_dir,
                           args.cfg_options)
    if hasattr(args, 'launcher'):
        apply_launcher(cfg, args)
    return cfg
