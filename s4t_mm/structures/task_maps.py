"""How each task's label map behaves under geometry, padding and batching.

Transforms and the data preprocessor read this table instead of branching on
task names, so a new task is one :func:`register_task_map` call (or none, if
the defaults fit: one channel, nearest interpolation, ignore value 255).
"""
from dataclasses import dataclass
from typing import Dict

IGNORE_INDEX = 255


@dataclass(frozen=True)
class TaskMapSpec:
    """Properties of one task's dense label map.

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


_TASK_MAPS: Dict[str, TaskMapSpec] = {
    'semseg': TaskMapSpec(categorical=True),
    'human_parts': TaskMapSpec(categorical=True),
    'depth': TaskMapSpec(),
    'normals': TaskMapSpec(channels=3, flip_sign_channel=0, unit_vector=True),
    'edge': TaskMapSpec(),
    'saliency': TaskMapSpec(),
}


def register_task_map(task: str, spec: TaskMapSpec, force: bool = False):
    """Declare how the label map of a new task behaves."""
    if task in _TASK_MAPS and not force:
        raise KeyError(f'task map {task!r} is already registered; pass '
                       f'force=True to replace it')
    _TASK_MAPS[task] = spec


def task_map_spec(task: str) -> TaskMapSpec:
    """The spec of ``task``; unknown tasks get the one-channel default."""
    return _TASK_MAPS.get(task, TaskMapSpec())


def known_task_maps():
    return sorted(_TASK_MAPS)
