"""tools/model_converters/s4t_ref2mm.py on checkpoints in the layout of the
S4T reference code (wooseong97/S4T-mtl), built here from its configs: key
names, shapes and task orders of its ``S4T_MAE_v4`` with a ResNet-50."""
import importlib.util
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from s4t_mm.apis.reference_checkpoint import (REFERENCE_PAIRS,
                                              ReferenceCheckpointError,
                                              convert_reference_checkpoint)
from s4t_mm.fileio import load_model_weights
from s4t_mm.registry import MODELS

ROOT = osp.join(osp.dirname(__file__), '..', '..')

# The reference's test-free facts, from its configs/S4T/pretrain/*.yml and
# utils/config.py: the source task order and output channels of each pair.
SOURCE_TASKS = {
    'nyud_taskonomy': dict(semseg=7, depth=1, normals=3, edge=1),
    'pascal_taskonomy': dict(semseg=6, normals=3, edge=1),
    'taskonomy_nyud': dict(depth_zbuffer=1, edge_occlusion=1, normal=3,
                           segment_semantic=7),
}
TO_S4T_MM = dict(depth_zbuffer='depth', edge_occlusion='edge',
                 normal='normals', segment_semantic='semseg')
FUSED, C, PATCH, WIDTH = 256 + 512 + 1024 + 2048, 64, 16, 64


def _tool():
    spec = importlib.util.spec_from_file_location('s4t_ref2mm', osp.join(
        ROOT, 'tools', 'model_converters', 's4t_ref2mm.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _zeros(*shape):
    # one stored element: a 94 MB ResNet-50 of zeros stays a tiny file
    return torch.zeros(1).expand(*shape)


def _resnet50():
    bn = lambda n: dict(weight=_zeros(n), bias=_zeros(n),  # noqa: E731
                        running_mean=_zeros(n), running_var=_zeros(n),
                        num_batches_tracked=torch.tensor(0))
    state = {'conv1.weight': _zeros(64, 3, 7, 7)}
    state.update({f'bn1.{k}': v for k, v in bn(64).items()})
    inplanes = 64
    for layer, blocks in enumerate((3, 4, 6, 3), 1):
        planes = 64 * 2**(layer - 1)
        for b in range(blocks):
            stem = f'layer{layer}.{b}.'
            for i, shape in enumerate(((planes, inplanes, 1, 1),
                                       (planes, planes, 3, 3),
                                       (4 * planes, planes, 1, 1)), 1):
                state[f'{stem}conv{i}.weight'] = _zeros(*shape)
                state.update({f'{stem}bn{i}.{k}': v
                              for k, v in bn(shape[0]).items()})
            if b == 0:
                state[f'{stem}downsample.0.weight'] = _zeros(
                    4 * planes, inplanes, 1, 1)
                state.update({f'{stem}downsample.1.{k}': v
                              for k, v in bn(4 * planes).items()})
            inplanes = 4 * planes
    return state


def _vit_block(prefix):
    shapes = {'norm1.weight': (WIDTH, ), 'norm1.bias': (WIDTH, ),
              'attn.qkv.weight': (3 * WIDTH, WIDTH),
              'attn.qkv.bias': (3 * WIDTH, ),
              'attn.proj.weight': (WIDTH, WIDTH), 'attn.proj.bias': (WIDTH, ),
              'norm2.weight': (WIDTH, ), 'norm2.bias': (WIDTH, ),
              'mlp.fc1.weight': (4 * WIDTH, WIDTH),
              'mlp.fc1.bias': (4 * WIDTH, ),
              'mlp.fc2.weight': (WIDTH, 4 * WIDTH), 'mlp.fc2.bias': (WIDTH, )}
    return {prefix + k: _zeros(*s) for k, s in shapes.items()}


def reference_state(pair):
    """The reference's ``model.state_dict()`` of a DDP-wrapped S4T_MAE_v4
    after source training of ``pair``, with marked values:

    - ``ts_comp`` bias: every channel of source task i's block is i + 1;
    - ``decoder_pred`` bias: output channel j (in the source order) is
      100 + j at every patch pixel;
    - main and auxiliary heads: bias = 1000 * (i + 1) + output channel.
    """
    tasks = SOURCE_TASKS[pair]
    joint = sum(tasks.values())
    state = {f'backbone.{k}': v for k, v in _resnet50().items()}
    for i, (task, ch) in enumerate(tasks.items()):
        marks = 1000.0 * (i + 1) + torch.arange(ch, dtype=torch.float32)
        state[f'heads.{task}.linear_pred.weight'] = _zeros(ch, FUSED, 1, 1)
        state[f'heads.{task}.linear_pred.bias'] = marks
        state[f'aux_heads.{task}.linear_pred.weight'] = _zeros(ch, C, 1, 1)
        state[f'aux_heads.{task}.linear_pred.bias'] = marks.clone()
    blocks = torch.arange(len(tasks), dtype=torch.float32) + 1
    state['ts_comp.weight'] = _zeros(len(tasks) * C, FUSED, 1, 1)
    state['ts_comp.bias'] = blocks.repeat_interleave(C)
    dec = {'patch_embed.proj.weight': _zeros(WIDTH, len(tasks) * C, PATCH,
                                             PATCH),
           'patch_embed.proj.bias': _zeros(WIDTH),
           'pos_embed': _zeros(1, 256, WIDTH),
           'norm.weight': _zeros(WIDTH), 'norm.bias': _zeros(WIDTH),
           'decoder_embed.weight': _zeros(WIDTH, WIDTH),
           'decoder_embed.bias': _zeros(WIDTH),
           'mask_token': _zeros(1, 1, WIDTH),
           'decoder_pos_embed': _zeros(1, 256, WIDTH),
           'decoder_norm.weight': _zeros(WIDTH),
           'decoder_norm.bias': _zeros(WIDTH),
           'decoder_pred.weight': _zeros(PATCH**2 * joint, WIDTH),
           'decoder_pred.bias': (100.0 + torch.arange(
               joint, dtype=torch.float32)).repeat(PATCH**2)}
    for i in range(4):
        dec.update(_vit_block(f'blocks.{i}.'))
    for i in range(2):
        dec.update(_vit_block(f'decoder_blocks.{i}.'))
    state.update({f'joint_dec.{k}': v for k, v in dec.items()})
    return {f'module.{k}': v for k, v in state.items()}


def save_reference(path, state):
    torch.save(dict(model=state, optimizer=dict(state={}, param_groups=[]),
                    scheduler=dict(last_epoch=60000), epoch=0,
                    iter_count=59999), path)
    return str(path)


def _model(pair):
    cfg = Config.fromfile(osp.join(ROOT, REFERENCE_PAIRS[pair].config))
    return MODELS.build(cfg.model)


@pytest.mark.parametrize('pair', sorted(SOURCE_TASKS))
def test_converted_checkpoint_loads_strictly_with_tasks_in_place(
        pair, tmp_path):
    src = save_reference(tmp_path / 'checkpoint_60000.pth.tar',
                         reference_state(pair))
    dst = str(tmp_path / 'converted.pth')
    meta = _tool().main([src, dst])
    assert meta['reference_pair'] == pair
    assert meta['iter_count'] == 59999
    model = _model(pair)
    assert tuple(model.tasks) == REFERENCE_PAIRS[pair].tasks
    load_model_weights(model, dst)  # strict: every key, every shape

    source = [TO_S4T_MM.get(t, t) for t in SOURCE_TASKS[pair]]
    channels = {TO_S4T_MM.get(t, t): c for t, c in SOURCE_TASKS[pair].items()}
    starts = {t: sum(channels[s] for s in source[:source.index(t)])
              for t in source}
    rel = model.relation_predictor
    model.eval()
    with torch.no_grad():
        compressed = rel.compress((torch.zeros(1, FUSED, 2, 2), ))
        recon = rel.reconstruct(compressed)
        aux = rel.aux_outputs(compressed)
        main = model.head_outputs((torch.zeros(1, FUSED, 2, 2), ))
    for task in model.tasks:
        i = source.index(task)
        # the compressor's block of a task is that task's source block
        assert torch.equal(rel.task_slice(compressed, task),
                           torch.full((1, C, 2, 2), i + 1.0))
        # its reconstruction holds that task's channels of decoder_pred
        marks = 100.0 + starts[task] + torch.arange(channels[task])
        assert torch.equal(recon[task][0, :, 5, 7], marks)
        assert torch.equal(recon[task][0, :, 200, 31], marks)
        heads_marks = 1000.0 * (i + 1) + torch.arange(channels[task])
        assert torch.equal(aux[task][0, :, 0, 0], heads_marks)
        assert torch.equal(main[task][0, :, 1, 1], heads_marks)


def test_patch_embedding_input_follows_the_task_blocks(tmp_path):
    state = reference_state('nyud_taskonomy')
    weight = torch.zeros(WIDTH, 4 * C, PATCH, PATCH)
    for i in range(4):  # source order semseg, depth, normals, edge
        weight[:, i * C:(i + 1) * C] = i + 1
    state['module.joint_dec.patch_embed.proj.weight'] = weight
    dst = str(tmp_path / 'converted.pth')
    convert_reference_checkpoint(save_reference(tmp_path / 'ref.pth', state),
                                 dst)
    converted = torch.load(dst, weights_only=True)['state_dict']
    got = converted['relation_predictor.autoencoder.patch_embed.weight']
    # s4t_mm's order: depth, edge, normals, semseg
    for slot, source_index in enumerate((1, 3, 2, 0)):
        assert torch.equal(got[:, slot * C:(slot + 1) * C],
                           torch.full((WIDTH, C, PATCH, PATCH),
                                      source_index + 1.0))


def test_uncertainty_scales_start_at_one(tmp_path):
    dst = str(tmp_path / 'converted.pth')
    convert_reference_checkpoint(save_reference(
        tmp_path / 'ref.pth', reference_state('taskonomy_nyud')), dst)
    converted = torch.load(dst, weights_only=True)['state_dict']
    assert torch.equal(converted['loss_combiner.scales'], torch.ones(4))


def test_prefix_free_state_converts_too(tmp_path):
    state = {k[len('module.'):]: v
             for k, v in reference_state('pascal_taskonomy').items()}
    dst = str(tmp_path / 'converted.pth')
    meta = convert_reference_checkpoint(
        save_reference(tmp_path / 'ref.pth', state), dst)
    assert meta['reference_pair'] == 'pascal_taskonomy'


@pytest.mark.parametrize('content,message', [
    (dict(state_dict={}, meta={}), 'needs no conversion'),
    (dict(weights={}), "expected a dict with 'model'"),
    (dict(model=dict(x=1)), 'not a state dict of tensors'),
])
def test_not_a_reference_checkpoint(content, message, tmp_path):
    src = str(tmp_path / 'other.pth')
    torch.save(content, src)
    dst = tmp_path / 'converted.pth'
    with pytest.raises(ReferenceCheckpointError, match=message):
        convert_reference_checkpoint(src, str(dst))
    assert not dst.exists()


def test_missing_and_unexpected_keys_are_named(tmp_path):
    state = reference_state('nyud_taskonomy')
    del state['module.ts_comp.bias']
    state['module.fpn.weight'] = torch.zeros(1)
    dst = tmp_path / 'converted.pth'
    dst.write_bytes(b'previous')
    with pytest.raises(ReferenceCheckpointError,
                       match=r"missing \['ts_comp.bias'\], unexpected "
                             r"\['fpn.weight'\]"):
        convert_reference_checkpoint(
            save_reference(tmp_path / 'ref.pth', state), str(dst))
    assert dst.read_bytes() == b'previous'  # never half-written


def test_unknown_task_set_names_the_valid_ones(tmp_path):
    state = {k.replace('.edge.', '.sal.'): v
             for k, v in reference_state('pascal_taskonomy').items()}
    with pytest.raises(ReferenceCheckpointError,
                       match=r"heads for \['normals', 'sal', 'semseg'\].*"
                             r"pascal_taskonomy: \['edge', 'normals', "
                             r"'semseg'\]"):
        convert_reference_checkpoint(
            save_reference(tmp_path / 'ref.pth', state),
            str(tmp_path / 'converted.pth'))


def test_refuses_to_overwrite_the_source(tmp_path):
    src = save_reference(tmp_path / 'ref.pth',
                         reference_state('nyud_taskonomy'))
    with pytest.raises(ValueError, match='refusing to overwrite'):
        convert_reference_checkpoint(src, src)


def _equivalence_check():
    spec = importlib.util.spec_from_file_location(
        'check_reference_equivalence',
        osp.join(ROOT, 'bench', 'check_reference_equivalence.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize('layout,message', [
    (None, 'no such directory'),
    ('models/TTT_MT.py', 'is not a checkout of the S4T reference'),
])
def test_equivalence_check_names_a_wrong_reference_path(
        layout, message, tmp_path, capsys):
    path = tmp_path / 'S4T-mtl'
    if layout is not None:
        (path / osp.dirname(layout)).mkdir(parents=True)
        (path / layout).write_text('')
    with pytest.raises(SystemExit) as exit_info:
        _equivalence_check().main(['--reference', str(path)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert message in err
    if layout is not None:  # the files it looked for are named
        assert 'utils/common_config.py' in err
        assert 'configs/S4T/ttt/nyud_taskonomy_resnet50_S4T.yml' in err
