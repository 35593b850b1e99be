# TTT-MAE source model: the small S4T source model of
# configs/s4t/synthetic_r18_source.py (same data, schedule and task weights)
# plus a masked image reconstruction branch on the fused features, trained
# jointly. Its 'image' branch is the auxiliary task MaskedImageAdapter
# adapts with.
_base_ = ['../s4t/synthetic_r18_source.py']
model = dict(
    self_supervised=dict(
        image=dict(
            type='MaskedImageReconstruction',
            in_channels={{_base_.fused_channels}},
            patch_size=8,
            mask_ratio=0.75,
            channels=64,
            loss_weight=1.0)))
