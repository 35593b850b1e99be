import pytest
import torch
import torch.nn.functional as F

from s4t_mm.models.self_supervised import MaskedImageReconstruction
from s4t_mm.registry import MODELS
from .utils import TINY_FUSED_CHANNELS, synthetic_batch, tiny_model_cfg


def _branch(**kwargs):
    cfg = dict(type='MaskedImageReconstruction',
               in_channels=TINY_FUSED_CHANNELS, patch_size=4, channels=8)
    cfg.update(kwargs)
    return cfg


def _model(**kwargs):
    return MODELS.build(tiny_model_cfg(
        self_supervised=dict(image=_branch(**kwargs))))


def _inputs(model, seed=0):
    return model.data_preprocessor(synthetic_batch(seed=seed))['inputs']


def test_mask_covers_the_ratio_of_whole_patches_per_image():
    branch = MaskedImageReconstruction(in_channels=4, patch_size=4,
                                       mask_ratio=0.75)
    mask = branch.random_mask(torch.zeros(3, 3, 32, 32))
    assert mask.shape == (3, 1, 32, 32)
    # 64 patches of 16 pixels, 48 of them masked, in every image
    assert mask.sum(dim=(1, 2, 3)).tolist() == [48 * 16] * 3
    patches = mask.view(3, 8, 4, 8, 4)
    assert torch.equal(patches.amax(dim=(2, 4)), patches.amin(dim=(2, 4)))
    assert not torch.equal(mask[0], mask[1])
    # border patches are cut when the size is not a multiple of the patch
    assert branch.random_mask(torch.zeros(1, 3, 30, 29)).shape == (1, 1, 30,
                                                                   29)


def test_loss_counts_masked_pixels_only():
    model = _model()
    branch = model.self_supervised['image']
    inputs = _inputs(model)
    mask = branch.random_mask(inputs, torch.Generator().manual_seed(3))
    # perfect on masked pixels, wrong on visible ones: no loss
    branch.predict_image = lambda feats, size: inputs + 5.0 * (1 - mask)
    loss = branch.loss(model, inputs, torch.Generator().manual_seed(3))
    assert float(loss) == 0.0
    branch.predict_image = lambda feats, size: inputs + 2.0
    loss = branch.loss(model, inputs, torch.Generator().manual_seed(3))
    assert float(loss) == pytest.approx(4.0)


def test_masked_patches_are_zero_in_the_encoder_input():
    model = _model(mask_ratio=0.5)
    seen = []
    model.extract_feat = lambda x: seen.append(x) or (torch.zeros(
        x.shape[0], TINY_FUSED_CHANNELS, 32, 32), )
    inputs = _inputs(model)
    branch = model.self_supervised['image']
    branch.loss(model, inputs, torch.Generator().manual_seed(1))
    mask = branch.random_mask(inputs, torch.Generator().manual_seed(1))
    assert torch.equal(seen[0], inputs * (1 - mask))
    assert (seen[0][mask.expand_as(inputs) > 0] == 0).all()


def test_model_self_supervised_loss_by_hand():
    """The masked-pixel mean squared error of the decoder's reconstruction
    of the masked image, computed by hand, times the loss weight."""
    model = _model(loss_weight=2.5)
    inputs = _inputs(model)
    branch = model.self_supervised['image']
    loss = model.self_supervised_loss(
        'image', inputs, generator=torch.Generator().manual_seed(2))
    mask = branch.random_mask(inputs, torch.Generator().manual_seed(2))
    with torch.no_grad():
        fused = model.extract_feat(inputs * (1 - mask))[0]
        pred = F.interpolate(branch.decoder(fused), size=inputs.shape[2:],
                             mode='bilinear', align_corners=False)
        masked = mask.expand_as(inputs) > 0
        expected = 2.5 * (pred - inputs)[masked].pow(2).mean()
    torch.testing.assert_close(loss.detach(), expected)
    assert loss.requires_grad
    with pytest.raises(KeyError, match="unknown self-supervised branch "
                       r"'img'; the model has \['image'\]"):
        model.self_supervised_loss('img', inputs)


def test_per_patch_normalised_target():
    branch = MaskedImageReconstruction(in_channels=4, patch_size=4,
                                       norm_pix_loss=True)
    x = torch.randn(2, 3, 8, 8) * 3 + 1
    target = branch.target(x).view(2, 3, 2, 4, 2, 4).permute(
        0, 2, 4, 1, 3, 5).reshape(2, 4, -1)
    torch.testing.assert_close(target.mean(-1), torch.zeros(2, 4),
                               atol=1e-5, rtol=0)
    torch.testing.assert_close(target.var(-1, unbiased=False),
                               torch.ones(2, 4), atol=1e-3, rtol=0)


def test_joint_source_training_lowers_the_reconstruction_loss():
    model = _model()
    batch = model.data_preprocessor(synthetic_batch(n=2), training=True)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    branch = model.self_supervised['image']

    def reconstruction():
        model.eval()
        with torch.no_grad():
            return float(branch.loss(model, batch['inputs'],
                                     torch.Generator().manual_seed(0)))

    first = reconstruction()
    for _ in range(20):
        model.train()
        losses = model.loss(batch['inputs'], batch['data_samples'])
        assert 'loss_image' in losses
        optimizer.zero_grad()
        sum(v for k, v in losses.items() if k.startswith('loss_')).backward()
        optimizer.step()
    assert reconstruction() < 0.7 * first


def test_bad_arguments_name_the_value():
    with pytest.raises(ValueError, match=r'mask_ratio must lie in \[0, 1\)'):
        MaskedImageReconstruction(in_channels=4, mask_ratio=1.0)
    with pytest.raises(ValueError, match='patch_size must be >= 1'):
        MaskedImageReconstruction(in_channels=4, patch_size=0)
