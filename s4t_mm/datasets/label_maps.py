"""Class names of the source datasets and the shared label sets of S4T pairs.

Cross-dataset experiments evaluate semantic segmentation on the classes two
datasets have in common (7 for NYUD-v2 <-> Taskonomy, 6 for PASCAL-Context
<-> Taskonomy, 4 for NYUD-v2 <-> PASCAL-Context). Each shared set is declared
once, by class *names* per dataset, so the id mappings follow from the class
tables below and can be checked by reading them. Datasets take
``label_map='nyud_taskonomy'`` (a shared set's name) or an explicit
``label_map=dict(classes=(...), mapping={source_id: shared_id})`` from the
config; every source id outside the mapping becomes the ignore index.
"""
from typing import Dict, Mapping, Optional, Sequence, Union

import numpy as np

from s4t_mm.structures.task_maps import IGNORE_INDEX

# NYU-Depth-v2 40-class labels, as ids after dropping "unlabeled" (0) and
# shifting 1..40 to 0..39.
NYUD40_CLASSES = (
    'wall', 'floor', 'cabinet', 'bed', 'chair', 'sofa', 'table', 'door',
    'window', 'bookshelf', 'picture', 'counter', 'blinds', 'desk', 'shelves',
    'curtain', 'dresser', 'pillow', 'mirror', 'floor mat', 'clothes',
    'ceiling', 'books', 'refrigerator', 'television', 'paper', 'towel',
    'shower curtain', 'box', 'whiteboard', 'person', 'night stand', 'toilet',
    'sink', 'lamp', 'bathtub', 'bag', 'otherstructure', 'otherfurniture',
    'otherprop')

# PASCAL VOC classes, the semantic labels of PASCAL-Context multi-task data.
PASCAL_VOC_CLASSES = (
    'background', 'aeroplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus',
    'car', 'cat', 'chair', 'cow', 'diningtable', 'dog', 'horse', 'motorbike',
    'person', 'pottedplant', 'sheep', 'sofa', 'train', 'tvmonitor')

# Taskonomy ``segment_semantic`` ids: 16 indoor COCO classes after two
# non-object ids (these two names are ours; no shared set uses them).
TASKONOMY_CLASSES = (
    'uncertain', 'background', 'bottle', 'chair', 'couch', 'potted plant',
    'bed', 'dining table', 'toilet', 'tv', 'microwave', 'oven', 'toaster',
    'sink', 'refrigerator', 'book', 'clock', 'vase')

SOURCE_CLASSES: Dict[str, Sequence[str]] = dict(
    nyud=NYUD40_CLASSES,
    pascal_context=PASCAL_VOC_CLASSES,
    taskonomy=TASKONOMY_CLASSES)

# Shared label sets: the shared class names, and for each member dataset its
# own class names in the shared order.
SHARED_LABEL_SETS: Dict[str, dict] = dict(
    nyud_taskonomy=dict(
        classes=('refrigerator', 'table', 'toilet', 'sofa', 'bed', 'sink',
                 'chair'),
        members=dict(
            nyud=('refrigerator', 'table', 'toilet', 'sofa', 'bed', 'sink',
                  'chair'),
            taskonomy=('refrigerator', 'dining table', 'toilet', 'couch',
                       'bed', 'sink', 'chair'))),
    pascal_taskonomy=dict(
        classes=('table', 'tv', 'bottle', 'sofa', 'potted plant', 'chair'),
        members=dict(
            pascal_context=('diningtable', 'tvmonitor', 'bottle', 'sofa',
                            'pottedplant', 'chair'),
            taskonomy=('dining table', 'tv', 'bottle', 'couch',
                       'potted plant', 'chair'))),
    nyud_pascal=dict(
        classes=('person', 'sofa', 'chair', 'table'),
        members=dict(
            nyud=('person', 'sofa', 'chair', 'table'),
            pascal_context=('person', 'sofa', 'chair', 'diningtable'))),
)


def shared_label_map(name: str, dataset: str) -> dict:
    """The label map of ``dataset`` into the shared set ``name``.

    Returns:
        dict(classes=shared class names, mapping={source id: shared id}).
    """
    if name not in SHARED_LABEL_SETS:
        raise KeyError(f'unknown shared label set {name!r}; known: '
                       f'{", ".join(sorted(SHARED_LABEL_SETS))}')
    label_set = SHARED_LABEL_SETS[name]
    if dataset not in label_set['members']:
        raise KeyError(f'dataset {dataset!r} is not part of the shared label '
                       f'set {name!r}; its members are '
                       f'{", ".join(sorted(label_set["members"]))}')
    source = list(SOURCE_CLASSES[dataset])
    mapping = {
        source.index(cls): shared_id
        for shared_id, cls in enumerate(label_set['members'][dataset])
    }
    return dict(classes=tuple(label_set['classes']), mapping=mapping)


def resolve_label_map(label_map: Union[None, str, Mapping],
                      dataset: str) -> Optional[dict]:
    """Normalise a dataset's ``label_map`` argument.

    Args:
        label_map: None (keep source ids), a shared set's name, or
            ``dict(classes=..., mapping={source_id: shared_id})``.
        dataset: the source dataset's key in :data:`SOURCE_CLASSES`.

    Returns:
        None or dict(classes=tuple, mapping={int: int}).
    """
    if label_map is None:
        return None
    if isinstance(label_map, str):
        return shared_label_map(label_map, dataset)
    if not isinstance(label_map, Mapping) or set(label_map) != {
            'classes', 'mapping'}:
        raise TypeError('label_map must be None, a shared label set name '
                        f'({", ".join(sorted(SHARED_LABEL_SETS))}) or '
                        'dict(classes=..., mapping={source_id: shared_id}), '
                        f'got {label_map!r}')
    classes = tuple(label_map['classes'])
    mapping = {int(k): int(v) for k, v in label_map['mapping'].items()}
    bad = {v for v in mapping.values() if not 0 <= v < len(classes)}
    if bad:
        raise ValueError(f'label_map sends ids to {sorted(bad)}, outside the '
                         f'{len(classes)} shared classes {classes}')
    return dict(classes=classes, mapping=mapping)


def apply_label_map(labels: np.ndarray,
                    mapping: Mapping[int, int],
                    ignore_index: int = IGNORE_INDEX) -> np.ndarray:
    """Map class ids through ``mapping``; all other ids become ignore.

    Args:
        labels: integer class ids of any shape (non-negative).
        mapping: source id -> target id.

    Returns:
        uint8 array of the same shape.
    """
    size = max(int(labels.max(initial=0)), max(mapping, default=0)) + 1
    lut = np.full(size, ignore_index, dtype=np.uint8)
    for source, target in mapping.items():
        lut[source] = target
    return lut[labels]
