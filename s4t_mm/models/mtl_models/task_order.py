"""The task order travels with the checkpoint, and is checked on load.

A :class:`MultiTaskEncoderDecoder` takes its task order from its config's
``heads``, and the relation predictor's channel blocks (and learned
uncertainty scales) follow that order, while the heads themselves load by
name. A config that lists the heads in another order than the source
training's would load such a checkpoint without complaint, every relation
channel given to another task. So the model writes its task order and each
head's output channels into its state dict's metadata when it is saved (a
state-dict hook: Runner checkpoints, ``torch.save(model.state_dict())`` and
the tools all carry it), and on load permutes the task-ordered blocks to its
own order, or refuses when no permutation can match (other tasks or
channels). A checkpoint saved without the metadata loads as it did, with a
warning.
"""
import logging
import torch.nn as nn
from mmengine.logging import print_log

#: Keys of the model's own (prefix ``''``) state-dict metadata.
TASK_ORDER, TASK_CHANNELS = 'task_order', 'task_channels'


class TaskOrderMismatchError(ValueError):
    """A checkpoint's tasks cannot be reordered into the model's."""


def store_task_order(model: nn.Module, state_dict: dict, prefix: str,
                     local_metadata: dict) -> None:
    """State-dict post hook: record ``model.task_channels`` (task: raw output
    channels, in the model's task order) in its metadata."""
    local_metadata[TASK_ORDER] = list(model.task_channels)
    local_metadata[TASK_CHANNELS] = dict(model.task_channels)


def align_task_order(model: nn.Module, state_dict: dict, prefix: str,
                     local_metadata: dict, *args) -> None:
    """Load-state-dict pre hook: permute, in ``state_dict``, the blocks of
    the model's task-ordered modules (``model.task_ordered_modules()``)
    from the order the checkpoint records to the model's."""
    ordered = {name: module for name, module in
               model.task_ordered_modules().items()
               if any(k.startswith(f'{prefix}{name}.') for k in state_dict)}
    if not ordered:
        return
    current = dict(model.task_channels)
    if TASK_ORDER not in local_metadata:
        print_log(
            f'the checkpoint does not record its task order (saved before '
            f's4t_mm recorded it): the task-ordered blocks of '
            f'{", ".join(ordered)} load in this model\'s order '
            f'{list(current)}; if the source model listed its heads in '
            'another order, their channels now belong to other tasks',
            logger='current', level=logging.WARNING)
        return
    saved = {task: int(local_metadata[TASK_CHANNELS][task])
             for task in local_metadata[TASK_ORDER]}
    if list(saved.items()) == list(current.items()):
        return
    if sorted(saved.items()) != sorted(current.items()):
        raise TaskOrderMismatchError(
            f'the checkpoint was saved by a model with the tasks {saved} '
            f'(task: output channels, in order); this model has {current}. '
            'Only the order may differ: build the model with the '
            "checkpoint's tasks and heads")
    for name, module in ordered.items():
        module.reorder_tasks(state_dict, f'{prefix}{name}.', list(saved))
    print_log(f'the checkpoint lists its tasks as {list(saved)}, this model '
              f'as {list(current)}: the task-ordered blocks of '
              f'{", ".join(ordered)} were permuted to match',
              logger='current')
