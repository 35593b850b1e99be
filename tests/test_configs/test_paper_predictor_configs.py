"""The embedded model with the relation predictor at the reference's scale
(issue 31): its sizes, its parameter count worked out from the
architecture, a configuration that differs from the converged benchmark
model in nothing else, and one S4T step on it."""
import os.path as osp

import torch
from mmengine.config import Config

from s4t_mm.registry import ADAPTERS, MODELS
from ..test_models.utils import synthetic_batch

ROOT = osp.join(osp.dirname(__file__), '..', '..', 'configs')
PAPER_SOURCE = osp.join(ROOT, 's4t',
                        'synthetic_r18_paper_predictor_source_converged.py')
SMALL_SOURCE = osp.join(ROOT, 's4t', 'synthetic_r18_source_converged.py')
REFERENCE = osp.join(ROOT, 's4t', 'nyud_taskonomy_r50.py')


def _count(module):
    return sum(p.numel() for p in module.parameters())


def _linear(n_in, n_out):
    return n_in * n_out + n_out


def _block(dim, mlp_ratio=4):
    """A pre-norm ViT block: two LayerNorms, qkv, projection, MLP."""
    hidden = dim * mlp_ratio
    return (2 * 2 * dim + _linear(dim, 3 * dim) + _linear(dim, dim) +
            _linear(dim, hidden) + _linear(hidden, dim))


def _autoencoder_parameters(in_channels, out_channels, input_size, patch,
                            dim, depth, decoder_dim, decoder_depth):
    """MAE's parameters: patch embedding, fixed position embeddings
    (stored as parameters, as in the reference), encoder, decoder and the
    per-patch prediction layer."""
    tokens = (input_size // patch)**2
    return (_linear(in_channels * patch * patch, dim) + tokens * dim +
            depth * _block(dim) + 2 * dim + _linear(dim, decoder_dim) +
            decoder_dim + tokens * decoder_dim +
            decoder_depth * _block(decoder_dim) + 2 * decoder_dim +
            _linear(decoder_dim, patch * patch * out_channels))


def _paper_model():
    return MODELS.build(Config.fromfile(PAPER_SOURCE).model)


def test_relation_predictor_has_the_references_sizes():
    predictor = _paper_model().relation_predictor
    reference = MODELS.build(
        Config.fromfile(REFERENCE).model).relation_predictor
    ae, ref_ae = predictor.autoencoder, reference.autoencoder
    assert ae.num_patches == ref_ae.num_patches == 256
    assert ae.num_kept(predictor.mask_ratio) == ref_ae.num_kept(
        reference.mask_ratio) == 51
    assert predictor.task_feat_channels == reference.task_feat_channels == 64
    assert len(ae.blocks) == len(ref_ae.blocks) == 4
    assert len(ae.decoder_blocks) == len(ref_ae.decoder_blocks) == 2
    assert ae.pos_embed.shape[-1] == ref_ae.pos_embed.shape[-1] == 64
    assert ae.decoder_pos_embed.shape[-1] == \
        ref_ae.decoder_pos_embed.shape[-1] == 64
    heads = [b.num_heads for b in [*ae.blocks, *ae.decoder_blocks]]
    assert heads == [b.num_heads for b in [
        *ref_ae.blocks, *ref_ae.decoder_blocks]] == [4] * 6
    # one patch covers the same share of the image side as the reference's
    # (128 / 8 here, 256 / 16 there)
    assert predictor.input_size // ae.patch_size == \
        reference.input_size // ref_ae.patch_size


def test_parameter_count_follows_from_the_architecture():
    model = _paper_model()
    small = MODELS.build(Config.fromfile(SMALL_SOURCE).model)
    predictor = model.relation_predictor
    tasks, c = 4, 64
    task_channels = dict(semseg=6, depth=1, normals=3, edge=1)
    assert predictor.task_channels == task_channels
    out = sum(task_channels.values())
    fused = 16 + 32 + 64 + 128
    assert _count(predictor.compressor) == _linear(fused, tasks * c)
    assert _count(predictor.aux_heads) == sum(
        _linear(c, n) for n in task_channels.values())
    assert _count(predictor.autoencoder) == _autoencoder_parameters(
        tasks * c, out, input_size=128, patch=8, dim=64, depth=4,
        decoder_dim=64, decoder_depth=2)
    # the small predictor by the same formula: C = 16, 64 tokens, 2 / 1
    assert _count(small.relation_predictor.autoencoder) == \
        _autoencoder_parameters(tasks * 16, out, input_size=64, patch=8,
                                dim=64, depth=2, decoder_dim=64,
                                decoder_depth=1)
    # everything but the relation predictor is the small model's
    assert _count(model) - _count(predictor) == \
        _count(small) - _count(small.relation_predictor)


def test_training_config_differs_only_in_the_relation_predictor():
    paper = Config.fromfile(PAPER_SOURCE).to_dict()
    small = Config.fromfile(SMALL_SOURCE).to_dict()
    paper_predictor = paper['model'].pop('relation_predictor')
    small_predictor = small['model'].pop('relation_predictor')
    assert paper.pop('paper_relation_predictor')
    assert paper == small
    changed = {k for k in paper_predictor
               if paper_predictor[k] != small_predictor[k]}
    assert changed == {'task_feat_channels', 'input_size', 'autoencoder'}
    assert paper['train_cfg']['max_iters'] == 3000
    assert [h['type'] for h in paper['custom_hooks']] == [
        'EarlyStoppingHook', 'NormCalibrationHook']


def test_benchmark_tables_use_the_source_configs_model():
    for table, source in (
            ('synthetic_predictor_scale_paper.py', PAPER_SOURCE),
            ('synthetic_predictor_scale_paper_lr_validation.py',
             PAPER_SOURCE),
            ('synthetic_predictor_scale.py', SMALL_SOURCE),
            ('synthetic_predictor_scale_lr_validation.py', SMALL_SOURCE)):
        cfg = Config.fromfile(osp.join(ROOT, 'benchmark', table))
        assert cfg.model == Config.fromfile(source).model, table
        assert cfg.train_config == osp.relpath(source,
                                               osp.join(ROOT, '..')), table
    paper = Config.fromfile(osp.join(
        ROOT, 'benchmark', 'synthetic_predictor_scale_paper.py'))
    small = Config.fromfile(osp.join(
        ROOT, 'benchmark', 'synthetic_predictor_scale.py'))
    # the same methods at both scales, the two pairings at one rate
    assert paper.methods == small.methods
    pairing = dict(small.methods.s4t_reference_pairing)
    assert pairing.pop('task_pairing') == 'reference'
    assert pairing.pop('reference_pair') == 'nyud_taskonomy'
    assert pairing == small.methods.s4t


def test_safe_table_runs_issue_28s_rows_on_the_paper_scale_model():
    """Item 4 compares S4T on the shift-response statistics across the
    scales row for row: the same rows as safe_policies.py (the small
    model's table), on the paper-scale model's calibrated copy."""
    cfg = Config.fromfile(osp.join(
        ROOT, 'benchmark', 'safe_policies_paper_predictor.py'))
    small = Config.fromfile(osp.join(ROOT, 'benchmark',
                                     'safe_policies_converged.py'))
    assert cfg.model == Config.fromfile(PAPER_SOURCE).model
    assert cfg.train_config == osp.relpath(PAPER_SOURCE,
                                           osp.join(ROOT, '..'))
    assert list(cfg.methods) == [
        'bn_adapt', 'shift_response', 's4t_shift_response']
    for name, method in cfg.methods.items():
        assert method == small.methods[name], name
    assert cfg.methods.s4t_shift_response.optimizer.lr == 1e-5
    assert cfg.calibrated_checkpoint == osp.join(
        cfg.source_work_dir + '_calibrated', 'iter_3000.pth')
    assert cfg.seeds == small.seeds == [0, 1, 2]


def test_one_adaptation_step_on_a_tiny_input():
    torch.manual_seed(0)
    model = _paper_model()
    model.init_weights()
    table = Config.fromfile(osp.join(
        ROOT, 'benchmark', 'synthetic_predictor_scale_paper.py'))
    adapter = ADAPTERS.build(dict(table.methods.s4t, optimizer=dict(
        type='SGD', lr=1e-2))).bind(model)
    inputs = model.data_preprocessor(
        synthetic_batch(n=2, size=32, num_classes=6))['inputs']
    with torch.no_grad():
        rec = model.relation_predictor(model.extract_feat(inputs))['rel']
    assert {t: tuple(r.shape) for t, r in rec.items()} == {
        'semseg': (2, 6, 128, 128), 'depth': (2, 1, 128, 128),
        'normals': (2, 3, 128, 128), 'edge': (2, 1, 128, 128)}
    before = {k: v.clone() for k, v in model.state_dict().items()}
    adapter.adapt(inputs, steps=1, seed=0)
    after = model.state_dict()
    moved = {k for k in before if not torch.equal(before[k], after[k])}
    assert adapter.stats['steps'] == 1
    assert all(torch.isfinite(v).all() for v in after.values()
               if v.is_floating_point())
    for prefix in ('backbone.', 'relation_predictor.compressor.',
                   'relation_predictor.autoencoder.blocks.3.',
                   'relation_predictor.autoencoder.decoder_blocks.1.'):
        assert any(k.startswith(prefix) for k in moved), prefix
    assert not any(k.startswith(('heads.', 'relation_predictor.aux_heads.'))
                   for k in moved)
