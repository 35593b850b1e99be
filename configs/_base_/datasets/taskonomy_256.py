# Taskonomy as the reference reads it for evaluation: its 512x512 files at
# 256x256. Without 'ori_shape' in the metainfo, predictions stay at 256x256
# and are scored there against the resized ground truth, as the reference
# scores them.
taskonomy_test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadMultiTaskAnnotations'),
    dict(type='MultiTaskResize', scale=(256, 256), keep_ratio=False),
    dict(type='PackMultiTaskInputs',
         meta_keys=('img_path', 'img_shape', 'pad_shape', 'scale_factor',
                    'flip', 'flip_direction', 'domain', 'sample_idx')),
]
