"""Test (and evaluate) a checkpoint with a config's test loop, as
MMSegmentation's ``tools/test.py``; what ``mim test s4t_mm CONFIG
--checkpoint CKPT`` runs.

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR]
        [--cfg-options k=v ...] [--launcher {none,pytorch,slurm,mpi}]

The checkpoint becomes ``load_from`` and ``Runner.from_cfg(cfg).test()``
evaluates the config's ``test_dataloader`` with its ``test_evaluator``. With
an adaptation config (a ``TestTimeAdaptHook`` in ``custom_hooks``) that is
the adapted evaluation: the hook adapts the model as its protocol says
before each test batch is predicted. To compare source-only and adapted on
every target domain of the config, use ``tools/test_time_adapt.py``.
(``--checkpoint CKPT`` is the same as the positional CHECKPOINT.)
"""
import argparse

from mmengine.runner import Runner

from s4t_mm.engine.launch import (add_checkpoint_arg, add_common_args,
                                  config_from_args, resolve_checkpoint)
from s4t_mm.utils import register_all_modules


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Test (and evaluate) a checkpoint')
    parser.add_argument('config', help='test config file path')
    add_checkpoint_arg(parser, positional=True)
    add_common_args(parser, with_seeds=False, with_domains=False)
    args = parser.parse_args(argv)
    resolve_checkpoint(parser, args)
    return args


def main(argv=None) -> dict:
    args = parse_args(argv)
    register_all_modules(init_default_scope=False)
    cfg = config_from_args(args)
    cfg.load_from = args.checkpoint
    return Runner.from_cfg(cfg).test()


if __name__ == '__main__':
    main()
