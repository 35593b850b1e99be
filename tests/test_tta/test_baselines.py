"""Every baseline adapts exactly the tensors it claims to."""
import math

import pytest
import torch

import s4t_mm.models.self_supervised  # noqa: F401
from s4t_mm.registry import ADAPTERS, MODELS
from s4t_mm.tta.adapters.base_adapter import norm_layers
from s4t_mm.tta.adapters.tent_adapter import task_logits
from ..test_models.utils import (TINY_FUSED_CHANNELS, synthetic_batch,
                                 tiny_model_cfg)

RUNNING_STATS = ('running_mean', 'running_var', 'num_batches_tracked')
BIG_SGD = dict(type='SGD', lr=1.0)


def _model(**kwargs):
    torch.manual_seed(42)
    return MODELS.build(tiny_model_cfg(relation=True, **kwargs))


def _mae_model():
    return _model(self_supervised=dict(image=dict(
        type='MaskedImageReconstruction', in_channels=TINY_FUSED_CHANNELS,
        patch_size=4, channels=8)))


def _inputs(model, seed=0):
    return model.data_preprocessor(synthetic_batch(seed=seed))['inputs']


def _moved_after_adapting(model, adapter_cfg, steps=3):
    """(moved parameter names, moved buffer names, the adapter)."""
    params = {k: p.detach().clone() for k, p in model.named_parameters()}
    buffers = {k: b.clone() for k, b in model.named_buffers()}
    adapter = ADAPTERS.build(adapter_cfg).bind(model)
    adapter.adapt(_inputs(model), steps=steps)
    moved_params = {k for k, p in model.named_parameters()
                    if not torch.equal(params[k], p)}
    moved_buffers = {k for k, b in model.named_buffers()
                     if not torch.equal(buffers[k], b)}
    assert adapter.stats['steps'] == steps
    return moved_params, moved_buffers, adapter


def _is_running_stat(name):
    return name.rsplit('.', 1)[-1] in RUNNING_STATS


def test_bn_adapt_changes_only_running_statistics():
    model = _model()
    moved_params, moved_buffers, adapter = _moved_after_adapting(
        model, dict(type='NormStatsAdapter', momentum=0.5))
    assert moved_params == set()
    assert adapter.adapted == []
    assert moved_buffers and all(_is_running_stat(k) for k in moved_buffers)
    # every BatchNorm's statistics moved
    bn_means = {k for k in dict(model.named_buffers())
                if k.endswith('running_mean')}
    assert bn_means <= moved_buffers


def test_tent_moves_only_normalisation_affine_parameters():
    model = _model()
    moved_params, moved_buffers, adapter = _moved_after_adapting(
        model, dict(type='TentAdapter', optimizer=BIG_SGD))
    affine = {f'{n}.{p}' for n, layer in norm_layers(model)
              for p, _ in layer.named_parameters(recurse=False)}
    assert {k for k, _ in adapter.adapted} == affine
    assert moved_params <= affine
    # the backbone's BatchNorms feed the segmentation, so all of them move;
    # the relation predictor's LayerNorms get no gradient from it
    assert {k for k in affine if k.startswith('backbone.')} <= moved_params
    assert all(_is_running_stat(k) for k in moved_buffers)


def test_tent_lowers_the_entropy_of_a_fixed_batch():
    model = _model()
    adapter = ADAPTERS.build(dict(type='TentAdapter', optimizer=dict(
        type='SGD', lr=0.05, momentum=0.9))).bind(model)
    inputs = _inputs(model)

    def entropy():
        model.train()  # batch statistics, as TENT adapts
        with torch.no_grad():
            return float(adapter.objective(model, inputs)['semseg.entropy'])

    history = [entropy()]
    for _ in range(3):
        adapter.adapt(inputs, steps=5)
        history.append(entropy())
    assert history == sorted(history, reverse=True)
    assert history[-1] < 0.8 * history[0]


def test_tent_reads_the_model_task_outputs_or_a_segmentor_tensor_mode():
    model = _model()
    inputs = _inputs(model)
    model.train()
    logits = model.task_outputs(inputs)['semseg']
    assert torch.equal(task_logits(model, inputs, 'semseg'), logits)

    class Segmentor(torch.nn.Module):
        """An mmseg-like segmentor: logits from ``mode='tensor'`` only."""

        def forward(self, x, mode='tensor'):
            assert mode == 'tensor'
            return x[:, :2] * 3.0

    assert torch.equal(task_logits(Segmentor(), inputs, 'semseg'),
                       inputs[:, :2] * 3.0)
    with pytest.raises(ValueError, match="the model has no 'nromals' head; "
                       r"its heads are \['semseg', 'depth', 'normals', "
                       r"'edge'\]"):
        ADAPTERS.build(dict(type='TentAdapter', task='nromals')).bind(model)


def test_masked_image_adapter_moves_only_the_encoder():
    model = _mae_model()
    moved_params, moved_buffers, adapter = _moved_after_adapting(
        model, dict(type='MaskedImageAdapter', optimizer=BIG_SGD))
    backbone = {k for k, _ in model.backbone.named_parameters(
        prefix='backbone')}
    assert {k for k, _ in adapter.adapted} == backbone
    assert moved_params and moved_params <= backbone
    assert all(_is_running_stat(k) for k in moved_buffers)


def test_masked_image_adapter_needs_the_branch():
    with pytest.raises(ValueError, match=r"no self-supervised branch "
                       r"'image'; its branches are \[\]"):
        ADAPTERS.build(dict(type='MaskedImageAdapter')).bind(_model())


def test_masked_image_adapter_lowers_its_objective():
    model = _mae_model()
    adapter = ADAPTERS.build(dict(
        type='MaskedImageAdapter', norm_policy='source_stats',
        optimizer=dict(type='Adam', lr=1e-2))).bind(model)
    inputs = _inputs(model)
    branch = model.self_supervised['image']

    def reconstruction():
        model.eval()
        with torch.no_grad():
            return float(branch.loss(model, inputs,
                                     torch.Generator().manual_seed(0)))

    first = reconstruction()
    adapter.adapt(inputs, steps=15)
    assert reconstruction() < 0.95 * first


def test_aux_consistency_moves_backbone_and_compressor_not_heads():
    model = _model()
    moved_params, moved_buffers, adapter = _moved_after_adapting(
        model, dict(type='AuxConsistencyAdapter', loss_weight=1.0,
                    optimizer=BIG_SGD))
    claimed = {k for k, _ in adapter.adapted}
    assert all(k.startswith(('backbone.', 'relation_predictor.compressor.'))
               for k in claimed)
    assert moved_params <= claimed
    assert any(k.startswith('backbone.') for k in moved_params)
    assert any(k.startswith('relation_predictor.compressor.')
               for k in moved_params)
    assert all(_is_running_stat(k) for k in moved_buffers)


@pytest.mark.parametrize('adapter_cfg', [
    dict(type='NormStatsAdapter'),
    dict(type='TentAdapter', optimizer=BIG_SGD),
    dict(type='MaskedImageAdapter', optimizer=BIG_SGD),
    dict(type='AuxConsistencyAdapter', optimizer=BIG_SGD),
    dict(type='EataAdapter', entropy_margin=1.0, optimizer=BIG_SGD),
])
def test_reset_restores_every_baseline_bitwise(adapter_cfg):
    model = _mae_model()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    adapter = ADAPTERS.build(adapter_cfg).bind(model)
    adapter.adapt(_inputs(model), steps=2)
    adapter.reset()
    assert all(torch.equal(state[k], v)
               for k, v in model.state_dict().items())


def test_eata_moves_only_normalisation_affine_parameters():
    model = _model()
    moved_params, moved_buffers, adapter = _moved_after_adapting(
        model, dict(type='EataAdapter', entropy_margin=1.0,
                    optimizer=BIG_SGD))
    affine = {f'{n}.{p}' for n, layer in norm_layers(model)
              for p, _ in layer.named_parameters(recurse=False)}
    assert moved_params and moved_params <= affine
    assert all(_is_running_stat(k) for k in moved_buffers)


def test_eata_keeps_only_confident_pixels_of_fresh_images():
    model = _model()
    adapter = ADAPTERS.build(dict(type='EataAdapter')).bind(model)
    inputs = _inputs(model)
    logits = torch.zeros(2, 4, 8, 8)
    logits[:, 0, :, :4] = 10.0  # confident left half, uniform right half
    tie = adapter.adapted[0][1]  # an adapted tensor, so the loss has a grad
    model.task_outputs = lambda x: dict(semseg=logits + 0 * tie.sum())
    log_p = logits.log_softmax(1)
    entropy = -(log_p.exp() * log_p).sum(1)
    e0 = 0.4 * math.log(4)
    expected = (entropy * torch.exp(e0 - entropy))[..., :4].mean()
    loss = adapter.objective(model, inputs)['semseg.eata']
    torch.testing.assert_close(loss.detach(), expected)
    # once the batch is in the moving average, the same images are
    # redundant: nothing is kept, the loss is 0
    adapter.adapt(inputs, steps=1)
    assert adapter.mean_probs is not None
    assert float(adapter.objective(model, inputs)['semseg.eata'].detach()) \
        == 0.0
    adapter.reset()
    assert adapter.mean_probs is None
