from .camera import CanonicalCamera
from .corruption import CORRUPTIONS, ImageCorruption
from .formatting import PackMultiTaskInputs
from .geometric import (MultiTaskPad, MultiTaskRandomCrop, MultiTaskRandomFlip,
                        MultiTaskRandomResize, MultiTaskResize)
from .loading import LoadMultiTaskAnnotations, register_ann_decoder
from .simulated_shift import SimulatedShift

__all__ = [
    'CanonicalCamera', 'CORRUPTIONS', 'ImageCorruption',
    'PackMultiTaskInputs', 'MultiTaskPad', 'MultiTaskRandomCrop',
    'MultiTaskRandomFlip', 'MultiTaskRandomResize', 'MultiTaskResize',
    'LoadMultiTaskAnnotations', 'register_ann_decoder', 'SimulatedShift'
]
