# TENT for a stock MMSegmentation model, with no change to mmseg: the
# FCN / ResNet-18 Cityscapes config shipped inside the mmsegmentation package,
# plus s4t_mm's TestTimeAdaptHook. Before each test batch is predicted, one
# SGD step minimises the entropy of the segmentor's softmax on it, moving
# only the affine parameters of the normalisation layers; the adapted state
# carries over to the next batch (online protocol). Labels never reach the
# adapter: the hook strips gt_sem_seg before adapting.
#
#   python tools/test.py configs/mmseg_tta/fcn_r18_cityscapes_tent.py \
#       CHECKPOINT            (mmseg's tools/test.py, or Runner.test())
_base_ = ['mmseg::fcn/fcn_r18-d8_4xb2-80k_cityscapes-512x1024.py']
custom_imports = dict(imports=['s4t_mm'], allow_failed_imports=False)
custom_hooks = [
    dict(
        type='s4t_mm.TestTimeAdaptHook',
        adapter=dict(
            type='s4t_mm.TentAdapter',
            optimizer=dict(type='SGD', lr=1e-3, momentum=0.9)),
        protocol=dict(type='online', steps=1)),
]
