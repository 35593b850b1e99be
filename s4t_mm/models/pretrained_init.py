"""Pretrained-weight loading that fails loudly instead of training from
random weights."""
import os.path as osp
from urllib.parse import urlparse

import torch
import torch.nn as nn
from mmengine.model.weight_init import PretrainedInit, update_init_info

from s4t_mm.fileio import CheckpointMismatchError, load_model_checkpoint
from s4t_mm.registry import WEIGHT_INITIALIZERS


@WEIGHT_INITIALIZERS.register_module(name='Pretrained')
class CheckedPretrainedInit(PretrainedInit):
    """mmengine's ``Pretrained`` initializer, with two checks.

    Inside the ``s4t_mm`` scope ``init_cfg=dict(type='Pretrained',
    checkpoint=...)`` builds this class, so configs stay mmseg's. It loads
    exactly as mmengine does (local path, ``http(s)://`` into torch's hub
    cache, ``torchvision://``, ``open-mmlab://``), but

    - a checkpoint that cannot be fetched or read (no network, no file) is an
      error naming the file, where a download is cached and how to point the
      config at a local copy;
    - a checkpoint that leaves parameters of the module unset (wrong file,
      wrong key prefix) is an error listing them, where mmengine would only
      warn and the run would go on from random weights.

    Args: as :class:`mmengine.model.weight_init.PretrainedInit`.
    """

    def __call__(self, module: nn.Module) -> None:
        try:
            load_model_checkpoint(
                module, self.checkpoint, map_location=self.map_location,
                prefix=self.prefix, ignore_extra_keys=True)
        except CheckpointMismatchError as err:
            raise CheckpointMismatchError(
                f'{err}\nUse a pretrained checkpoint of this architecture '
                '(set prefix= in init_cfg when its keys carry one)') from None
        except Exception as err:
            raise RuntimeError(self._fetch_hint(err)) from err
        if hasattr(module, '_params_init_info'):
            update_init_info(module, init_info=self._get_init_info())

    def _fetch_hint(self, err: Exception) -> str:
        source = self.checkpoint
        reason = f'{type(err).__name__}: {err}'
        override = ('or point the config at a local copy, e.g. '
                    '--cfg-options model.backbone.init_cfg.checkpoint='
                    '/path/to/file.pth')
        if source.startswith(('http://', 'https://')):
            name = osp.basename(urlparse(source).path)
            cache = osp.join(torch.hub.get_dir(), 'checkpoints', name)
            return (f'cannot load the pretrained weights {source} ({reason}). '
                    f'Without network, download that file elsewhere and put '
                    f'it at {cache} (torch hub cache; TORCH_HOME moves it), '
                    f'{override}')
        if '://' in source:
            return (f'cannot load the pretrained weights {source} ({reason}). '
                    f'Without network, fetch them on a machine that has it, '
                    f'copy the file here and {override}')
        return (f'cannot load the pretrained weights file {source} '
                f'({reason}). Put the checkpoint at that path, {override}')
