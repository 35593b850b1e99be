"""Train a multi-task model on the source domain.

    python tools/train.py CONFIG [--work-dir DIR] [--resume] [--amp]
        [--cfg-options k=v ...] [--launcher {none,pytorch,slurm,mpi}]
"""
import argparse

from mmengine.config import Config

from s4t_mm.apis import train
from s4t_mm.engine.launch import (add_common_args, apply_launcher,
                                  default_work_dir)
from s4t_mm.utils import register_all_modules


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Source training')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--resume', action='store_true',
                        help='resume from the latest checkpoint in work-dir')
    parser.add_argument('--amp', action='store_true',
                        help='mixed precision (fp16 on CUDA, bf16 on CPU)')
    add_common_args(parser, with_seeds=False, with_domains=False)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    register_all_modules(init_default_scope=False)
    cfg = Config.fromfile(args.config)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    default_work_dir(cfg, args.config, args.work_dir)
    apply_launcher(cfg, args)
    return train(cfg, resume=args.resume, amp=args.amp)


if __name__ == '__main__':
    main()
