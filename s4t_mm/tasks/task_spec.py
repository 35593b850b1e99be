"""What s4t_mm knows about a task besides its head, in one registered spec.

A spec is plain data (a label map, the registered type of an evaluator,
style and encoding names), so structures-level code reads it without
importing evaluation or visualization; those packages resolve the names.
"""
from collections.abc import Mapping
from typing import Dict, Iterator, Optional, Tuple, Type

from s4t_mm.registry import TASKS
from .task_map import TaskMapSpec


class TaskSpec:
    """One task: subclass it, set what differs from these defaults and
    register the subclass in :data:`~s4t_mm.registry.TASKS` under the
    task's name (``@TASKS.register_module(name='depth')``).

    Attributes:
        label_map: how its label map resamples, pads and flips.
        evaluator: config of its evaluator in
            :data:`~s4t_mm.registry.TASK_EVALUATORS`
            (``dict(type='DepthEvaluator', ...)``), or None: not evaluated.
        delta_m_metrics: score names of that evaluator that delta_m may use,
            the first one measured wins; empty leaves the task out of
            delta_m (with a warning when it is measured). Which way each
            score is better is the evaluator's ``directions``.
        style: how ``MultiTaskVisualizer`` draws it (``'palette'``,
            ``'colormap'``, ``'normals'``, ``'overlay'``); None: by its
            label map (categorical -> palette, unit vectors -> normals,
            one channel -> colormap).
        png16: how a prediction is stored in a 16-bit PNG,
            ``dict(scale=..., offset=..., note=...)`` read back as
            ``value = png / scale + offset``; None: categorical tasks store
            class ids, others a float32 ``.npy``.
        classes_key, palette_key: ``dataset_meta`` keys of its class names
            and colours; None: ``'<task>_classes'``, ``'<task>_palette'``.
    """
    label_map: TaskMapSpec = TaskMapSpec()
    evaluator: Optional[dict] = None
    delta_m_metrics: Tuple[str, ...] = ()
    style: Optional[str] = None
    png16: Optional[dict] = None
    classes_key: Optional[str] = None
    palette_key: Optional[str] = None


def task_specs() -> Dict[str, Type[TaskSpec]]:
    """Every registered spec by task name, in registration order."""
    TASKS.import_from_location()
    return dict(TASKS.module_dict)


def task_spec(task: str) -> Type[TaskSpec]:
    """The spec of ``task``; a task without one gets :class:`TaskSpec`'s
    defaults (one-channel map, not evaluated, drawn by its map, stored as
    ``.npy``)."""
    TASKS.import_from_location()
    return TASKS.module_dict.get(task, TaskSpec)


class TaskSpecView(Mapping):
    """``{task: spec.<attribute>}`` over the registered specs whose
    attribute is set, read live, so a per-concern table (``TASK_STYLES``)
    is a view of the specs and includes tasks registered later."""

    def __init__(self, attribute: str):
        if not hasattr(TaskSpec, attribute):
            raise AttributeError(
                f'TaskSpec has no attribute {attribute!r}; valid: '
                f'{", ".join(k for k in vars(TaskSpec) if k[0] != "_")}')
        self.attribute = attribute

    def _items(self) -> dict:
        return {task: getattr(spec, self.attribute)
                for task, spec in task_specs().items()
                if getattr(spec, self.attribute) is not None}

    def __getitem__(self, task: str):
        return self._items()[task]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items())

    def __len__(self) -> int:
        return len(self._items())

    def __repr__(self) -> str:
        return f'TaskSpecView({self.attribute!r}, {self._items()})'
