from .masked_image_reconstruction import MaskedImageReconstruction

__all__ = ['MaskedImageReconstruction']
