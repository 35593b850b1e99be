"""How a task's label map behaves under geometry, padding and batching."""
from dataclasses import dataclass

IGNORE_INDEX = 255


@dataclass(frozen=True)
class TaskMapSpec:
    """Properties of one task's dense label map, read by transforms and the
    data preprocessor instead of branching on task names.

    Args:
        channels: channels of the map (3 for normals).
        categorical: integer class ids (semseg, human parts); stored as
            ``long`` and never interpolated other than nearest.
        ignore_value: value marking pixels without a label, also used to pad.
        flip_sign_channel: channel whose sign flips under a horizontal flip
            (the x component of surface normals), or None.
        unit_vector: the map holds unit vectors that resampling must keep
            unit length.
    """
    channels: int = 1
    categorical: bool = False
    ignore_value: float = IGNORE_INDEX
    flip_sign_channel: int = None
    unit_vector: bool = False
