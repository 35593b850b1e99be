"""ImageNet-C style corruptions as a pipeline transform.

Wraps :func:`imagecorruptions.corrupt` so that a corrupted target domain is
one pipeline entry, e.g. ``dict(type='ImageCorruption',
corruption='fog', severity=3)``, and the same sample is always corrupted the
same way: the library draws from numpy's global generator, so the transform
seeds it per sample and restores it afterwards.
"""
import cv2
import numpy as np
from imagecorruptions import corrupt, get_corruption_names
from mmcv.transforms import BaseTransform

from s4t_mm.registry import TRANSFORMS

# The 15 standard ImageNet-C corruptions (the library's 'common' subset).
CORRUPTIONS = tuple(get_corruption_names('common'))
SEVERITIES = (1, 2, 3, 4, 5)
# Corruptions that ignore the global generator and take their own seed.
_SEEDED_BY_ARGUMENT = ('glass_blur', 'impulse_noise')


@TRANSFORMS.register_module()
class ImageCorruption(BaseTransform):
    """Corrupt ``results['img']`` (H, W, 3 uint8 BGR, H and W >= 32).

    Labels are untouched (corruptions change appearance only; the few that
    move pixels, such as elastic_transform, move them by a pixel or so).

    Args:
        corruption: one of :data:`CORRUPTIONS`.
        severity: 1 (mild) to 5 (strong).
        seed: combined with ``results['sample_idx']`` into the per-sample
            seed, so a sample's corruption is reproducible and samples
            differ.
    """

    def __init__(self, corruption: str, severity: int, seed: int = 0):
        if corruption not in CORRUPTIONS:
            raise ValueError(f'unknown corruption {corruption!r}; valid '
                             f'corruptions: {", ".join(CORRUPTIONS)}')
        if severity not in SEVERITIES or isinstance(severity, bool):
            raise ValueError(f'severity must be one of {SEVERITIES}, got '
                             f'{severity!r}')
        if seed < 0:
            raise ValueError(f'seed must be >= 0, got {seed}')
        self.corruption = corruption
        self.severity = int(severity)
        self.seed = int(seed)

    def transform(self, results: dict) -> dict:
        img = results['img']
        if img.ndim != 3 or img.shape[2] != 3 or min(img.shape[:2]) < 32:
            raise ValueError(f'ImageCorruption needs an (H, W, 3) image with '
                             f'H, W >= 32, got shape {img.shape}')
        seed = int(
            np.random.SeedSequence([self.seed, results['sample_idx']
                                    ]).generate_state(1)[0])
        kwargs = dict(seed=seed) if (self.corruption
                                     in _SEEDED_BY_ARGUMENT) else {}
        state = np.random.get_state()
        np.random.seed(seed)
        try:
            out = corrupt(
                np.ascontiguousarray(img[..., ::-1]),
                severity=self.severity,
                corruption_name=self.corruption,
                **kwargs)
        finally:
            np.random.set_state(state)
        if out.shape[:2] != img.shape[:2]:
            out = cv2.resize(out, (img.shape[1], img.shape[0]),
                             interpolation=cv2.INTER_LINEAR)
        results['img'] = np.ascontiguousarray(out[..., ::-1]).astype(np.uint8)
        return results

    def __repr__(self):
        return (f'{self.__class__.__name__}(corruption={self.corruption!r}, '
                f'severity={self.severity}, seed={self.seed})')
