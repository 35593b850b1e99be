"""PASCAL-Context for multi-task dense prediction (the MTI-Net release)."""
import os.path as osp
from typing import Mapping, Optional, Sequence, Union

from s4t_mm.datasets.base_multi_task_dataset import BaseMultiTaskDataset
from s4t_mm.datasets.label_maps import PASCAL_VOC_CLASSES
from s4t_mm.registry import DATASETS

PASCAL_CONTEXT_LAYOUT = """\
<data_root>/
  JPEGImages/<id>.jpg                  RGB image
  ImageSets/Context/{train,val}.txt    one <id> per line
  semseg/VOC12/<id>.png                VOC class ids 0..20, 255 = ignore
    (else semseg/pascal-context/<id>.png, same ids)
  human_parts/<id>.mat                 PASCAL-Part ``anno`` struct
  normals_distill/<id>.png             RGB, n = 2 * v / 255 - 1
  sal_distill/<id>.png                 > 127 = salient
  pascal-context/trainval/<id>.mat     ``LabelMap`` of context classes;
                                       edges are its label boundaries"""

# The 6-part grouping of PASCAL-Part person parts used by multi-task work.
HUMAN_PART_GROUPS = (
    ('head', ('hair', 'head', 'lear', 'lebrow', 'leye', 'mouth', 'nose',
              'rear', 'rebrow', 'reye')),
    ('torso', ('neck', 'torso')),
    ('upper arm', ('luarm', 'ruarm')),
    ('lower arm', ('llarm', 'rlarm', 'lhand', 'rhand')),
    ('upper leg', ('luleg', 'ruleg')),
    ('lower leg', ('llleg', 'rlleg', 'lfoot', 'rfoot')),
)
HUMAN_PART_CLASSES = ('background', ) + tuple(g for g, _ in HUMAN_PART_GROUPS)
HUMAN_PART_IDS = {
    part: group_id
    for group_id, (_, parts) in enumerate(HUMAN_PART_GROUPS, start=1)
    for part in parts
}
PASCAL_PERSON_CLASS = 15


@DATASETS.register_module()
class PascalContextMultiTaskDataset(BaseMultiTaskDataset):
    """PASCAL-Context with semseg, human parts, normals, saliency and edges.

    Semantic labels are the 21 VOC ids as stored (255 = ignore) or a shared
    label set. Human parts are 0 = background and 1..6 (head, torso, upper
    arm, lower arm, upper leg, lower leg); images without people are all
    background. Edges are the one-pixel-thin boundaries of the context
    label map. Distilled normals hold everywhere unless
    ``normals_valid_labels`` restricts them to listed context classes.

    Args:
        data_root: dataset root (from the config).
        split: name of the list in ``ImageSets/Context/``.
        tasks: subset of semseg, human_parts, normals, saliency, edge.
        label_map: None, a shared label set name (``'pascal_taskonomy'``,
            ``'nyud_pascal'``) or dict(classes=..., mapping={id: shared_id}).
        part_ids: PASCAL-Part part name -> human part id.
        normals_valid_labels: context ``LabelMap`` ids on which distilled
            normals count as ground truth; None keeps all pixels.
        normal_signs: per-axis sign applied to decoded normals.
        domain: name stored with every sample.
        **kwargs: passed to :class:`BaseMultiTaskDataset`.
    """
    METAINFO = dict(
        classes=PASCAL_VOC_CLASSES, human_parts_classes=HUMAN_PART_CLASSES)
    NAME = 'PASCAL-Context'
    SOURCE = 'pascal_context'
    LAYOUT = PASCAL_CONTEXT_LAYOUT
    CONTEXT_LABEL_DIR = osp.join('pascal-context', 'trainval')
    # task -> (folders to try in order, suffix)
    TASK_FILES = dict(
        semseg=((osp.join('semseg', 'VOC12'),
                 osp.join('semseg', 'pascal-context')), '.png'),
        human_parts=(('human_parts', ), '.mat'),
        normals=(('normals_distill', ), '.png'),
        saliency=(('sal_distill', ), '.png'),
        edge=((CONTEXT_LABEL_DIR, ), '.mat'))
    TASKS = tuple(TASK_FILES)

    def __init__(self,
                 data_root: str,
                 split: str = 'val',
                 tasks: Sequence[str] = ('semseg', 'human_parts', 'normals',
                                         'saliency', 'edge'),
                 label_map: Union[None, str, dict] = None,
                 part_ids: Mapping[str, int] = HUMAN_PART_IDS,
                 normals_valid_labels: Optional[Sequence[int]] = None,
                 normal_signs: Sequence[float] = (1., 1., 1.),
                 domain: str = 'pascal_context',
                 metainfo: Optional[dict] = None,
                 **kwargs) -> None:
        self.split = split
        self.part_ids = dict(part_ids)
        self.normals_valid_labels = normals_valid_labels
        self.normal_signs = tuple(normal_signs)
        super().__init__(
            data_root=data_root,
            tasks=tasks,
            label_map=label_map,
            domain=domain,
            ann_file=osp.join('ImageSets', 'Context', f'{split}.txt'),
            metainfo=metainfo,
            **kwargs)

    def build_ann_decoders(self, label_mapping):
        return dict(
            semseg=dict(type='class_png', label_map=label_mapping),
            human_parts=dict(
                type='pascal_parts_mat',
                part_ids=self.part_ids,
                person_class=PASCAL_PERSON_CLASS),
            normals=dict(
                type='normals_png',
                signs=self.normal_signs,
                valid_labels=None if self.normals_valid_labels is None else
                tuple(self.normals_valid_labels)),
            saliency=dict(type='binary_png', threshold=127),
            edge=dict(type='label_boundary_mat', key='LabelMap', thin=True))

    def list_samples(self) -> list:
        data_list, missing = [], []
        for sample_id in self.read_split(self.split):
            img_path = osp.join(self.data_root, 'JPEGImages',
                                sample_id + '.jpg')
            ann_paths = self._ann_paths(sample_id)
            files = [img_path] + [
                p for entry in ann_paths.values()
                for p in ([entry] if isinstance(entry, str) else
                          entry.values())
            ]
            missing += [p for p in files if not osp.isfile(p)]
            data_list.append(self.sample(img_path, ann_paths, sample_id))
        self.check_files(missing)
        return data_list

    def _ann_paths(self, sample_id: str) -> dict:
        ann_paths = {}
        for task in self.tasks:
            folders, suffix = self.TASK_FILES[task]
            candidates = [
                osp.join(self.data_root, folder, sample_id + suffix)
                for folder in folders
            ]
            ann_paths[task] = next(
                (p for p in candidates if osp.isfile(p)), candidates[-1])
        if 'normals' in ann_paths and self.normals_valid_labels is not None:
            ann_paths['normals'] = dict(
                path=ann_paths['normals'],
                label_file=osp.join(self.data_root, self.CONTEXT_LABEL_DIR,
                                    sample_id + '.mat'))
        return ann_paths
