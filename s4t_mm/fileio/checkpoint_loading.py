"""The one way s4t_mm puts a checkpoint into a model.

:func:`load_model_checkpoint` (tools, the inferencer,
``init_cfg=dict(type='Pretrained')``) wraps mmengine's ``_load_checkpoint``
and ``_load_checkpoint_to_model`` and first checks, on every rank, that the
weights fit the model.
"""
import re
from typing import Dict, Optional, Sequence, Tuple

import torch
from mmengine.runner.checkpoint import (_load_checkpoint,
                                        _load_checkpoint_to_model,
                                        _load_checkpoint_with_prefix)

#: mmengine's default key renaming: weights saved from a (Distributed)
#: DataParallel wrapper lose their ``module.`` prefix.
DEFAULT_REVISE_KEYS: Tuple[Tuple[str, str], ...] = ((r'^module\.', ''), )


class CheckpointMismatchError(ValueError):
    """A checkpoint's weights do not fit the model they are loaded into."""


def check_state_dict_fits(model: torch.nn.Module,
                          state_dict: Dict[str, torch.Tensor],
                          source: str,
                          ignore_extra_keys: bool = False) -> None:
    """Raise :class:`CheckpointMismatchError` if ``state_dict`` does not fit
    ``model`` key for key and shape.

    mmengine's non-strict loading only warns about mismatches, which
    silently leaves e.g. a segmentation head with a different class count
    at its random initialisation, and its strict loading raises on rank 0
    only; here it is an error, on every rank, naming the tensors, both
    shapes and the likely cause. ``ignore_extra_keys`` accepts keys the
    model lacks (the classifier of an ImageNet backbone checkpoint).
    """
    own = model.state_dict()
    mismatched = [(k, tuple(v.shape), tuple(own[k].shape))
                  for k, v in state_dict.items()
                  if k in own and own[k].shape != v.shape]
    # BatchNorm fills a missing counter itself, as mmengine allows
    missing = sorted(k for k in set(own) - set(state_dict)
                     if not k.endswith('num_batches_tracked'))
    unexpected = [] if ignore_extra_keys else sorted(set(state_dict) -
                                                     set(own))
    if not (mismatched or missing or unexpected):
        return
    lines = [f'checkpoint {source!r} does not fit the model of the config:']
    for key, theirs, ours in mismatched:
        hint = ''
        if key.endswith('conv_out.weight') or key.endswith('conv_seg.weight'):
            hint = (f' (the checkpoint head predicts {theirs[0]} channels/'
                    f'classes, the config asks for {ours[0]})')
        lines.append(f'  {key}: checkpoint {theirs}, model {ours}{hint}')
    if missing:
        lines.append(f'  missing from the checkpoint: {missing[:10]}'
                     f'{" ..." if len(missing) > 10 else ""}; it holds '
                     f'keys like {list(state_dict)[:3]}')
    if unexpected:
        lines.append(f'  not in the model: {unexpected[:10]}'
                     f'{" ..." if len(unexpected) > 10 else ""}')
    raise CheckpointMismatchError('\n'.join(lines))


def load_model_checkpoint(
        model: torch.nn.Module,
        filename: str,
        *,
        map_location='cpu',
        prefix: Optional[str] = None,
        ignore_extra_keys: bool = False,
        revise_keys: Sequence[Tuple[str, str]] = DEFAULT_REVISE_KEYS,
        logger='current') -> dict:
    """Load the weights of ``filename`` into ``model``, after checking
    they fit (:func:`check_state_dict_fits`); the one checkpoint path of
    s4t_mm.

    Reading is mmengine's ``_load_checkpoint`` (a local file through the
    safe loader; ``http(s)://``, ``torchvision://``, ``open-mmlab://``),
    or ``_load_checkpoint_with_prefix`` when ``prefix`` picks a
    sub-module's weights; loading is ``_load_checkpoint_to_model`` with
    ``revise_keys`` (regex, replacement) applied to the keys.

    Returns:
        The checkpoint as read (with its ``meta``), or with ``prefix`` the
        sub-module's state dict.
    """
    if prefix is None:
        checkpoint = _load_checkpoint(filename, map_location=map_location)
    else:
        checkpoint = _load_checkpoint_with_prefix(
            prefix, filename, map_location=map_location)
    state_dict = checkpoint.get('state_dict', checkpoint)
    revised = {}
    for key, value in state_dict.items():
        for pattern, replacement in revise_keys:
            key = re.sub(pattern, replacement, key)
        revised[key] = value
    check_state_dict_fits(model, revised, filename, ignore_extra_keys)
    return _load_checkpoint_to_model(
        model, checkpoint, strict=not ignore_extra_keys, logger=logger,
        revise_keys=revise_keys)


def load_model_weights(model: torch.nn.Module, filename: str) -> None:
    """Load a checkpoint's weights into ``model`` after checking they fit
    (:func:`load_model_checkpoint` with its defaults)."""
    load_model_checkpoint(model, filename)
