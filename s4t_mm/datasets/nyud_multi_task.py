"""NYUD-v2 for multi-task dense prediction (the MTI-Net / ATRC release)."""
import os.path as osp
from typing import Optional, Sequence, Union

from mmengine.dataset import BaseDataset

from s4t_mm.datasets.label_maps import NYUD40_CLASSES, resolve_label_map
from s4t_mm.registry import DATASETS

NYUD_LAYOUT = """\
<data_root>/
  images/<id>.png (or .jpg)      RGB image
  segmentation/<id>.png          0 = unlabeled, 1..40 = NYU-40 classes
  depth/<id>.npy                 float depth in metres, 0 = invalid
  normals/<id>.png               RGB, n = 2 * v / 255 - 1, all-zero = invalid
  edge/<id>.png                  > 0 = edge
  gt_sets/{train,val}.txt        one <id> per line"""


@DATASETS.register_module()
class NYUDMultiTaskDataset(BaseDataset):
    """NYUD-v2 with semseg, depth, normals and edge maps (layout above).

    Each sample carries ``img_path``, ``ann_paths`` ({task: file}),
    ``domain`` and ``sample_id``; :class:`LoadMultiTaskAnnotations` decodes
    the maps with the decoders this dataset declares. Semantic labels are the
    40 NYU classes as ids 0..39 (unlabeled -> 255), or a shared label set.

    Args:
        data_root: dataset root (from the config).
        split: name of the list in ``gt_sets/``.
        tasks: tasks to load, a subset of semseg, depth, normals, edge.
        label_map: None, a shared label set name (``'nyud_taskonomy'``,
            ``'nyud_pascal'``) or dict(classes=..., mapping={id: shared_id}).
        normal_signs: per-axis sign applied to decoded normals, to bring
            them into the frame shared with the other dataset of a pair.
        domain: name stored with every sample.
        **kwargs: passed to ``mmengine.dataset.BaseDataset``.
    """
    METAINFO = dict(classes=NYUD40_CLASSES)
    TASK_FILES = dict(
        semseg=('segmentation', '.png'),
        depth=('depth', '.npy'),
        normals=('normals', '.png'),
        edge=('edge', '.png'))
    IMG_SUFFIXES = ('.png', '.jpg')

    def __init__(self,
                 data_root: str,
                 split: str = 'val',
                 tasks: Sequence[str] = ('semseg', 'depth', 'normals',
                                         'edge'),
                 label_map: Union[None, str, dict] = None,
                 normal_signs: Sequence[float] = (1., 1., 1.),
                 domain: str = 'nyud',
                 metainfo: Optional[dict] = None,
                 **kwargs) -> None:
        unknown = sorted(set(tasks) - set(self.TASK_FILES))
        if unknown:
            raise ValueError(f'unknown NYUD-v2 tasks {unknown}; valid: '
                             f'{", ".join(self.TASK_FILES)}')
        self.tasks = tuple(tasks)
        self.split = split
        self.domain = domain
        label_map = resolve_label_map(label_map, 'nyud')
        self.ann_decoders = dict(
            semseg=dict(
                type='class_png',
                reduce_zero_label=True,
                label_map=label_map and label_map['mapping']),
            depth=dict(type='depth_npy', invalid_values=(0, )),
            normals=dict(
                type='normals_png',
                signs=tuple(normal_signs),
                zero_is_ignore=True),
            edge=dict(type='binary_png', threshold=0))
        metainfo = dict(metainfo or {})
        if label_map is not None:
            metainfo.setdefault('classes', label_map['classes'])
        metainfo.setdefault('tasks', self.tasks)
        super().__init__(
            ann_file=osp.join('gt_sets', f'{split}.txt'),
            data_root=data_root,
            metainfo=metainfo,
            **kwargs)

    def load_data_list(self) -> list:
        if not osp.isdir(self.data_root):
            raise FileNotFoundError(
                f'NYUD-v2 data_root {self.data_root!r} does not exist; '
                f'expected layout:\n{NYUD_LAYOUT}')
        if not osp.isfile(self.ann_file):
            raise FileNotFoundError(
                f'NYUD-v2 split list {self.ann_file} not found (data_root='
                f'{self.data_root!r}, split={self.split!r}); expected '
                f'layout:\n{NYUD_LAYOUT}')
        with open(self.ann_file) as f:
            ids = [line.strip() for line in f if line.strip()]
        data_list, missing = [], []
        for sample_id in ids:
            candidates = [
                osp.join(self.data_root, 'images', sample_id + suffix)
                for suffix in self.IMG_SUFFIXES
            ]
            img_path = next((p for p in candidates if osp.isfile(p)), None)
            if img_path is None:
                missing.append(' or '.join(candidates))
            ann_paths = {
                task: osp.join(self.data_root, folder, sample_id + suffix)
                for task, (folder, suffix) in self.TASK_FILES.items()
                if task in self.tasks
            }
            missing += [p for p in ann_paths.values() if not osp.isfile(p)]
            data_list.append(
                dict(
                    img_path=img_path,
                    ann_paths=ann_paths,
                    domain=self.domain,
                    sample_id=sample_id))
        if missing:
            raise FileNotFoundError(
                f'{len(missing)} NYUD-v2 files listed by {self.ann_file} are '
                f'missing, e.g. {missing[:3]}; expected layout:\n'
                f'{NYUD_LAYOUT}')
        return data_list

    def get_data_info(self, idx: int) -> dict:
        data_info = super().get_data_info(idx)
        data_info['ann_decoders'] = self.ann_decoders
        return data_info
