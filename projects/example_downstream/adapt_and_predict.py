"""The downstream project end to end on the installed s4t_mm: train the
model of ``configs/pseudo_label_fcn_log_depth.py`` on the source style,
then predict unlabeled target-style images without and with test-time
adaptation (the config's ``PseudoLabelAdapter`` and protocol), and say how
far adaptation moved the predictions.

    python adapt_and_predict.py --work-dir work_dirs/example
    python adapt_and_predict.py --work-dir /tmp/w --train-iters 2 \\
        --img-size 32 --num-images 4          # a smoke test, seconds

Prints one JSON line: the s4t_mm in use, the checkpoint, what the model
is made of (backbone and heads, partly inherited), the target domains the
base config defines, the adaptation steps, and per task the largest change
adaptation made to a prediction.
"""
import argparse
import json
import os.path as osp

import numpy as np
from mmengine.config import Config
from mmengine.runner import Runner

import s4t_mm
from s4t_mm.apis import MultiTaskInferencer
from s4t_mm.datasets.synthetic_world_dataset import render_sample

CONFIG = osp.join(osp.dirname(osp.abspath(__file__)), 'configs',
                  'pseudo_label_fcn_log_depth.py')


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--work-dir', required=True)
    parser.add_argument('--train-iters', type=int, default=None,
                        help='default: the config\'s max_iters')
    parser.add_argument('--img-size', type=int, default=None,
                        help='default: the config\'s img_size')
    parser.add_argument('--num-images', type=int, default=8,
                        help='unlabeled target images to adapt on')
    parser.add_argument('--style', default='target_warm',
                        help='target style of the embedded world')
    return parser.parse_args()


def source_config(args) -> Config:
    cfg = Config.fromfile(CONFIG)
    cfg.work_dir = args.work_dir
    cfg.custom_hooks = []  # adaptation is for test time only
    if args.img_size is not None:
        for loader in ('train_dataloader', 'val_dataloader',
                       'test_dataloader'):
            cfg[loader].dataset.img_size = args.img_size
    if args.train_iters is not None:
        cfg.train_cfg.max_iters = args.train_iters
        cfg.train_cfg.val_interval = args.train_iters
        cfg.param_scheduler[0].end = args.train_iters
        cfg.default_hooks.checkpoint.interval = args.train_iters
        cfg.train_dataloader.dataset.num_samples = max(
            args.train_iters * cfg.train_dataloader.batch_size, 8)
        cfg.val_dataloader.dataset.num_samples = 8
    return cfg


def main():
    args = parse_args()
    cfg = source_config(args)
    Runner.from_cfg(cfg).train()
    checkpoint = osp.join(args.work_dir,
                          f'iter_{cfg.train_cfg.max_iters}.pth')

    img_size = cfg.test_dataloader.dataset.img_size
    images = [render_sample(args.style, 'test', i, img_size=img_size)['img']
              for i in range(args.num_images)]
    adaptation = Config.fromfile(CONFIG).custom_hooks[0]
    source = MultiTaskInferencer(
        cfg, weights=checkpoint, device='cpu', show_progress=False)(
            images, batch_size=len(images))['predictions']
    adapted = MultiTaskInferencer(
        cfg, weights=checkpoint, device='cpu', adapter=adaptation.adapter,
        protocol=adaptation.protocol, show_progress=False)(
            images, batch_size=len(images))
    change = {
        task: max(float(np.abs(a[task].astype(np.float64) -
                               s[task].astype(np.float64)).max())
                  for a, s in zip(adapted['predictions'], source))
        for task in source[0]
    }
    heads = {task: head.get('decoder', head).type
             for task, head in cfg.model.heads.items()}
    print(json.dumps(dict(
        s4t_mm=s4t_mm.__file__, checkpoint=checkpoint,
        backbone=cfg.model.backbone.type, heads=heads,
        target_domains=[d.name for d in cfg.target_domains],
        steps=adapted['summary'].get('steps'), max_change=change)))


if __name__ == '__main__':
    main()
