"""NYUD-v2 for multi-task dense prediction (the MTI-Net / ATRC release)."""
import os.path as osp
from typing import Optional, Sequence, Union

import numpy as np

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

#: The Kinect RGB camera of NYU Depth V2 for the full 640 x 480 frame, as the
#: NYU toolbox's camera_params.m gives it (fx_rgb, fy_rgb, cx_rgb, cy_rgb).
#: The toolbox is MATLAB, so its principal point may be up to a pixel off the
#: pixel-centres-at-integers convention of cam2img: nothing to
#: CanonicalCamera, which reads the focal lengths.
NYUD_KINECT_CAM2IMG = ((5.1885790117450188e+02, 0.0, 3.2558244941119034e+02),
                       (0.0, 5.1946961112127485e+02, 2.5373616633400465e+02),
                       (0.0, 0.0, 1.0))


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
        cam2img: the (3, 3) camera matrix of every image, stored as each
            sample's ``cam2img`` (what :class:`CanonicalCamera` and the
            consistency energy read); default the Kinect's for the full
            640 x 480 frame. A release of cropped frames (the MTI-Net one)
            has the same focal lengths, which is all CanonicalCamera needs;
            its principal point moves by the crop offset: pass its matrix.
            None stores none.
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
                 cam2img: Optional[Sequence[Sequence[float]]] = (
                     NYUD_KINECT_CAM2IMG),
                 domain: str = 'nyud',
                 metainfo: Optional[dict] = None,
                 **kwargs) -> None:
        self.split = split
        self.normal_signs = tuple(normal_signs)
        self.cam2img = None
        if cam2img is not None:
            self.cam2img = np.asarray(cam2img, dtype=np.float64)
            if self.cam2img.shape != (3, 3):
                raise ValueError(f'cam2img must be a (3, 3) matrix, got '
                                 f'shape {self.cam2img.shape}')
            self.cam2img = self.cam2img.tolist()
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
            if self.cam2img is not None:
                data_list[-1]['cam2img'] = self.cam2img
        self.check_files(missing)
        return data_list
