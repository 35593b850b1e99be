"""One checkpoint, source-only, through two or more test configs.

    python tools/analysis_tools/compare_test_pipelines.py BASE OTHER [...]
        --checkpoint CKPT [--names plain canonical] [--domains KEY]
        [--work-dir DIR] [--resume] [--cfg-options k=v ...]

Each config is tested without adaptation on the ``--domains`` list of the
first config that defines it;
the table gives every config's metrics and its delta_m against BASE (e.g.
``configs/s4t/synthetic_r18_source_canonical_camera.py`` against
``configs/s4t/synthetic_r18_source.py``: what resampling the images to the
source camera changes). Writes ``WORK/test_pipelines.json``
(:mod:`s4t_mm.apis.pipeline_comparison`).
"""
import argparse
import os.path as osp

from mmengine.logging import print_log

from s4t_mm.apis.pipeline_comparison import (compare_test_pipelines,
                                             pipelines_table)
from s4t_mm.apis.comparison import method_names
from s4t_mm.engine.launch import (add_checkpoint_arg, add_common_args,
                                  load_tool_config)
from s4t_mm.utils import register_all_modules


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Source-only results through several test configs')
    parser.add_argument('configs', nargs='+',
                        help='test configs, the first is the reference')
    parser.add_argument('--names', nargs='+',
                        help='one per config (default: the file names)')
    parser.add_argument('--resume', action='store_true',
                        help='reuse the finished (config, domain) results')
    add_checkpoint_arg(parser)
    add_common_args(parser, with_seeds=False, launcher=False)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    register_all_modules(init_default_scope=False)
    names = method_names(args.configs, args.names)
    configs = [load_tool_config(c, args.checkpoint, args.work_dir,
                                args.cfg_options) for c in args.configs]
    work_dir = args.work_dir or osp.join(
        'work_dirs', 'test_pipelines_' + '_vs_'.join(names))
    result = compare_test_pipelines(configs, names, args.checkpoint,
                                    args.domains, work_dir, args.resume)
    print_log(pipelines_table(result), logger='current')
    return result


if __name__ == '__main__':
    main()
