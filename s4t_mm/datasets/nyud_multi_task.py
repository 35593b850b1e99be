"""NYUD-v2 for multi-task dense prediction (the MTI-Net / ATRC release)."""
import os.path as osp
from typing import Optional, Sequence, Union

from s4t_mm.datasets.base_multi_task_dataset import BaseMultiTaskDataset
from s4t_mm.datasets.label_maps import NYUD40_CLASSES
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
class NYUDMultiTaskDataset(BaseMultiTaskDataset):
    """NYUD-v2 with semseg, depth, normals and edge maps (layout above).

    Semantic labels are the 40 NYU classes as ids 0..39 (unlabeled -> 255),
    or a shared label set.

    Args:
        data_root: dataset root (from the config).
        split: name of the list in ``gt_sets/``.
        tasks: tasks to load, a subset of semseg, depth, normals, edge.
        label_map: None, a shared label set name (``'nyud_taskonomy'``,
            ``'nyud_pascal'``) or dict(classes=..., mapping={id: shared_id}).
        normal_signs: per-axis sign applied to decoded normals, to bring
            them into the frame shared with the other dataset of a pair.
        domain: name stored with every sample.
        **kwargs: passed to :class:`BaseMultiTaskDataset`.
    """
    METAINFO = dict(classes=NYUD40_CLASSES)
    NAME = 'NYUD-v2'
    SOURCE = 'nyud'
    LAYOUT = NYUD_LAYOUT
    TASK_FILES = dict(
        semseg=('segmentation', '.png'),
        depth=('depth', '.npy'),
        normals=('normals', '.png'),
        edge=('edge', '.png'))
    TASKS = tuple(TASK_FILES)
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
        self.split = split
        self.normal_signs = tuple(normal_signs)
        super().__init__(
            data_root=data_root,
            tasks=tasks,
            label_map=label_map,
            domain=domain,
            ann_file=osp.join('gt_sets', f'{split}.txt'),
            metainfo=metainfo,
            **kwargs)

    def build_ann_decoders(self, label_mapping):
        return dict(
            semseg=dict(
                type='class_png',
                reduce_zero_label=True,
                label_map=label_mapping),
            depth=dict(type='depth_npy', invalid_values=(0, )),
            normals=dict(
                type='normals_png',
                signs=self.normal_signs,
                zero_is_ignore=True),
            edge=dict(type='binary_png', threshold=0))

    def list_samples(self) -> list:
        data_list, missing = [], []
        for sample_id in self.read_split(self.split):
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
            data_list.append(self.sample(img_path, ann_paths, sample_id))
        self.check_files(missing)
        return data_list
