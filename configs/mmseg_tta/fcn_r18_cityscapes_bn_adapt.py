# BN-adapt for a stock MMSegmentation model, with no change to mmseg: the
# FCN / ResNet-18 Cityscapes config shipped inside the mmsegmentation package,
# plus s4t_mm's TestTimeAdaptHook. Every test batch is predicted with
# BatchNorm statistics re-estimated on that batch (momentum 1.0), starting
# from the source statistics each time (episodic protocol). Labels never
# reach the adapter: the hook strips gt_sem_seg before adapting.
#
#   python tools/test.py configs/mmseg_tta/fcn_r18_cityscapes_bn_adapt.py \
#       CHECKPOINT            (mmseg's tools/test.py, or Runner.test())
_base_ = ['mmseg::fcn/fcn_r18-d8_4xb2-80k_cityscapes-512x1024.py']
custom_imports = dict(imports=['s4t_mm'], allow_failed_imports=False)
custom_hooks = [
    dict(
        type='s4t_mm.TestTimeAdaptHook',
        adapter=dict(type='s4t_mm.NormStatsAdapter', momentum=1.0),
        protocol=dict(type='episodic', steps=1)),
]
