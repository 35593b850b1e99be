"""Checkpoints of the S4T reference code (github wooseong97/S4T-mtl) as
s4t_mm checkpoints.

The reference saves ``{'model', 'optimizer', 'scheduler', 'epoch',
'iter_count'}`` from a DDP-wrapped ``S4T_MAE_v4`` (keys prefixed
``module.``). Its source-training config fixes the order of the tasks
inside three tensors, which s4t_mm lays out in its own task order (that of
the matching config's heads):

- ``ts_comp`` (the compressor): output rows in blocks of C = 64 channels,
  one block per task;
- ``joint_dec.patch_embed.proj``: input channels in the same blocks;
- ``joint_dec.decoder_pred``: rows are (256 patch pixels x output
  channels), the channel axis running over the tasks' outputs in order.

Everything else is renamed only (the ResNet keys are already mmseg's). The
reference's uncertainty weights (``AWL.params``) belong to its loss module,
which it does not save; at test time it starts them fresh, as
``S4TAdapter(weighting='uncertainty')`` does.
"""
import io
import os.path as osp
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import torch

from s4t_mm.fileio import atomic_write_bytes, load_checkpoint_file
from s4t_mm.tta.adapters.s4t_adapter import REFERENCE_TASK_ORDERS

#: The reference's names of the Taskonomy tasks (its ``TASKS.NAMES``).
TASKONOMY_NAMES = dict(depth='depth_zbuffer', edge='edge_occlusion',
                       normals='normal', semseg='segment_semantic')


@dataclass(frozen=True)
class ReferencePair:
    """One source -> target pair of the reference's experiments.

    Attributes:
        name: the pair, also the stem of ``configs/s4t/<name>_r50.py`` and a
            key of :data:`REFERENCE_TASK_ORDERS`.
        source_names: s4t_mm task name -> the checkpoint's task name.
        tasks: task order of the matching s4t_mm config's heads.
        uncertainty_source: the config trains with
            ``UncertaintyWeightCombiner``, whose scales are part of the
            model; the reference keeps them in its loss module, which it
            does not save, so the converted scales are 1 (their start).
    """
    name: str
    source_names: Dict[str, str]
    tasks: Tuple[str, ...]
    uncertainty_source: bool = False

    @property
    def source_tasks(self) -> Tuple[str, ...]:
        """The task order of the reference's source-training config, which
        the checkpoint's per-task channel blocks follow."""
        return REFERENCE_TASK_ORDERS[self.name][0]

    @property
    def config(self) -> str:
        return f'configs/s4t/{self.name}_r50.py'


REFERENCE_PAIRS = {
    pair.name: pair
    for pair in (
        ReferencePair('nyud_taskonomy', {t: t for t in TASKONOMY_NAMES},
                      ('depth', 'edge', 'normals', 'semseg')),
        ReferencePair('pascal_taskonomy',
                      {t: t for t in ('semseg', 'normals', 'edge')},
                      ('edge', 'normals', 'semseg')),
        ReferencePair('taskonomy_nyud', dict(TASKONOMY_NAMES),
                      ('depth', 'edge', 'normals', 'semseg'),
                      uncertainty_source=True),
    )
}

#: ``joint_dec`` sub-keys whose name differs in s4t_mm (timm's ViT blocks
#: and patch embedding vs ours); the rest keep their names.
_AUTOENCODER_RENAMES = (('.patch_embed.proj.', '.patch_embed.'),
                        ('.attn.qkv.', '.qkv.'), ('.attn.proj.', '.proj.'),
                        ('.mlp.fc1.', '.fc1.'), ('.mlp.fc2.', '.fc2.'))
_PREFIXES = ('backbone.', 'heads.', 'aux_heads.', 'ts_comp.', 'joint_dec.')


class ReferenceCheckpointError(ValueError):
    """A file is not a checkpoint of the S4T reference code."""


def resnet50_keys() -> List[str]:
    """The state-dict keys of the reference's (torchvision-named) ResNet-50,
    which are also mmseg's ``ResNet(depth=50, style='pytorch')`` keys."""
    bn = ('weight', 'bias', 'running_mean', 'running_var',
          'num_batches_tracked')
    keys = ['conv1.weight'] + [f'bn1.{k}' for k in bn]
    for layer, blocks in enumerate((3, 4, 6, 3), 1):
        for b in range(blocks):
            stem = f'layer{layer}.{b}.'
            for i in (1, 2, 3):
                keys += [f'{stem}conv{i}.weight'] + [f'{stem}bn{i}.{k}'
                                                     for k in bn]
            if b == 0:
                keys += [f'{stem}downsample.0.weight'] + [
                    f'{stem}downsample.1.{k}' for k in bn]
    return keys


def reference_model_state(checkpoint) -> Dict[str, torch.Tensor]:
    """The model's state dict of a reference checkpoint, ``module.``
    stripped; a clear error for anything else."""
    if not isinstance(checkpoint, dict) or 'model' not in checkpoint:
        found = sorted(checkpoint) if isinstance(checkpoint, dict) else \
            type(checkpoint).__name__
        hint = (" (an s4t_mm/mmengine checkpoint: it needs no conversion)"
                if isinstance(checkpoint, dict) and 'state_dict' in checkpoint
                else '')
        raise ReferenceCheckpointError(
            "not a checkpoint of the S4T reference: expected a dict with "
            "'model' (and 'optimizer', 'scheduler', 'epoch', 'iter_count'), "
            f'found {found}{hint}')
    state = checkpoint['model']
    if not isinstance(state, dict) or not all(
            isinstance(v, torch.Tensor) for v in state.values()):
        raise ReferenceCheckpointError(
            "the reference checkpoint's 'model' is not a state dict of "
            'tensors')
    return {k[len('module.'):] if k.startswith('module.') else k: v
            for k, v in state.items()}


def detect_pair(state: Dict[str, torch.Tensor]) -> ReferencePair:
    """The pair whose source tasks the checkpoint's main heads name."""
    heads = {k.split('.')[1] for k in state if k.startswith('heads.')}
    for pair in REFERENCE_PAIRS.values():
        if heads == set(pair.source_names.values()):
            return pair
    valid = '; '.join(f'{p.name}: {sorted(p.source_names.values())}'
                      for p in REFERENCE_PAIRS.values())
    raise ReferenceCheckpointError(
        f'the checkpoint has heads for {sorted(heads)}, which is none of the '
        f"reference's source task sets ({valid})")


def _check_keys(state: Dict[str, torch.Tensor], pair: ReferencePair) -> None:
    names = [pair.source_names[t] for t in pair.source_tasks]
    unexpected = sorted(k for k in state if not k.startswith(_PREFIXES))
    required = ['backbone.' + k for k in resnet50_keys()] + [
        f'{kind}.{n}.linear_pred.{p}' for kind in ('heads', 'aux_heads')
        for n in names for p in ('weight', 'bias')] + [
        'ts_comp.weight', 'ts_comp.bias', 'joint_dec.patch_embed.proj.weight',
        'joint_dec.decoder_pred.weight', 'joint_dec.decoder_pred.bias']
    missing = [k for k in required if k not in state]
    if missing or unexpected:
        raise ReferenceCheckpointError(
            f'not an S4T reference checkpoint of {pair.name} with a '
            f'ResNet-50: missing {missing[:10]}'
            f'{" ..." if len(missing) > 10 else ""}, unexpected '
            f'{unexpected[:10]}{" ..." if len(unexpected) > 10 else ""}')


def _block_index(order: Sequence[str], tasks: Sequence[str],
                 sizes: Dict[str, int]) -> torch.Tensor:
    """Indices that take channels laid out task by task in ``order`` to the
    layout of ``tasks`` (task t has ``sizes[t]`` channels)."""
    start, offset = {}, 0
    for t in order:
        start[t] = offset
        offset += sizes[t]
    return torch.cat([torch.arange(start[t], start[t] + sizes[t])
                      for t in tasks])


def convert_reference_state(state: Dict[str, torch.Tensor],
                            pair: Optional[ReferencePair] = None,
                            tasks: Optional[Sequence[str]] = None
                            ) -> Dict[str, torch.Tensor]:
    """An s4t_mm ``MultiTaskEncoderDecoder`` state dict from the reference's
    model state (``module.`` stripped).

    Args:
        state: the reference's ``S4T_MAE_v4`` state dict.
        pair: the experiment pair; detected from the head names if None.
        tasks: s4t_mm's task order (the model's ``tasks``); default that of
            the pair's config.
    """
    pair = pair or detect_pair(state)
    tasks = tuple(tasks or pair.tasks)
    if sorted(tasks) != sorted(pair.source_tasks):
        raise ReferenceCheckpointError(
            f'tasks {list(tasks)} are not the tasks of {pair.name}: '
            f'{sorted(pair.source_tasks)}')
    _check_keys(state, pair)
    name = pair.source_names
    out_ch = {t: state[f'heads.{name[t]}.linear_pred.weight'].shape[0]
              for t in tasks}
    comp = state['ts_comp.weight']
    if comp.shape[0] % len(tasks):
        raise ReferenceCheckpointError(
            f'ts_comp has {comp.shape[0]} output channels, not a multiple of '
            f'the {len(tasks)} tasks')
    feat = {t: comp.shape[0] // len(tasks) for t in tasks}
    pred = state['joint_dec.decoder_pred.weight']
    joint = sum(out_ch.values())
    if pred.shape[0] % joint:
        raise ReferenceCheckpointError(
            f'decoder_pred has {pred.shape[0]} rows, not (patch pixels x '
            f'{joint} task output channels)')
    feat_index = _block_index(pair.source_tasks, tasks, feat)
    out_index = _block_index(pair.source_tasks, tasks, out_ch)
    converted = {}
    for key, value in state.items():
        if key.startswith('backbone.'):
            converted[key] = value
        elif key == 'ts_comp.weight' or key == 'ts_comp.bias':
            converted['relation_predictor.compressor.' + key.split('.')[1]] \
                = value[feat_index]
        elif key.startswith(('heads.', 'aux_heads.')):
            kind, ref_task, _, param = key.split('.')
            task = next(t for t in tasks if name[t] == ref_task)
            converted[f'heads.{task}.conv_out.{param}' if kind == 'heads'
                      else f'relation_predictor.aux_heads.{task}.{param}'] = \
                value
        else:
            sub = key[len('joint_dec'):]
            for old, new in _AUTOENCODER_RENAMES:
                sub = sub.replace(old, new)
            sub = sub[1:]
            if sub == 'patch_embed.weight':
                value = value[:, feat_index]
            elif sub.startswith('decoder_pred.'):
                pixels = value.shape[0] // joint
                value = value.reshape(pixels, joint, *value.shape[1:])[
                    :, out_index].reshape(value.shape)
            converted['relation_predictor.autoencoder.' + sub] = value
    if pair.uncertainty_source:
        converted['loss_combiner.scales'] = torch.ones(len(tasks))
    return converted


def convert_reference_checkpoint(src: str, dst: str) -> dict:
    """Convert the reference checkpoint ``src`` and write it to ``dst``
    (atomically: ``dst`` is either absent or complete). Returns the written
    checkpoint's ``meta``."""
    if osp.exists(dst) and osp.samefile(src, dst):
        raise ValueError(f'refusing to overwrite the source checkpoint '
                         f'{src!r}; give another DST')
    checkpoint = load_checkpoint_file(src, map_location='cpu')
    state = reference_model_state(checkpoint)
    pair = detect_pair(state)
    meta = dict(converted_from=osp.abspath(src), reference_pair=pair.name,
                config=pair.config, source_tasks=list(pair.source_tasks),
                epoch=checkpoint.get('epoch'),
                iter_count=checkpoint.get('iter_count'))
    buffer = io.BytesIO()
    torch.save(dict(meta=meta, state_dict=convert_reference_state(
        state, pair)), buffer)
    atomic_write_bytes(buffer.getvalue(), dst)
    return meta
