# The relation predictor at the reference's scale for the small model of
# s4t_r18_tiny.py. Sizes from the reference's own configs
# (configs/S4T/*/*.yml: head_inter_channel 64, S4T_model_spec) and
# configs/_base_/models/s4t_r50.py:
#   C = 64 channels per task (the tiny model: 16);
#   256 tokens: the compressed 32x32 map resized to 128x128 (the input
#   size) in 8x8 patches; the reference cuts its 256x256 map in 16x16
#   patches, so one patch covers 1/16 of the image side in both (tiny: 64
#   tokens, 64x64 in 8x8 patches);
#   encoder 4 x 64 and decoder 2 x 64, 4 heads each, MLP ratio 4 (tiny:
#   2 x 64 and 1 x 64); mask ratio 0.8, so 51 tokens visible (tiny: 12).
# Backbone, fusion and heads stay the tiny model's. Used beside a config
# of the small model (a second base defines no key of the first):
#   _base_ = ['./synthetic_r18_source_converged.py',
#             '../_base_/models/s4t_r18_paper_predictor.py']
#   model = dict(relation_predictor={{_base_.paper_relation_predictor}})
paper_relation_predictor = dict(
    task_feat_channels=64,
    input_size=128,
    mask_ratio=0.8,
    autoencoder=dict(
        patch_size=8, embed_dim=64, depth=4, num_heads=4,
        decoder_embed_dim=64, decoder_depth=2, decoder_num_heads=4))
