"""What the real multi-task datasets share, as mmseg's ``BaseSegDataset``
holds what its segmentation datasets share."""
import os.path as osp
from typing import Dict, List, Optional, Sequence, Union

from mmengine.dataset import BaseDataset

from s4t_mm.datasets.label_maps import resolve_label_map


class BaseMultiTaskDataset(BaseDataset):
    """A dataset of images with one label map per task on disk.

    It checks the requested tasks, resolves ``label_map`` (which renames
    ``classes`` in the metainfo), records the tasks in the metainfo, checks
    that ``data_root`` exists and hands every sample the decoders of its
    maps; errors name the dataset and show its expected layout. A subclass
    declares the class attributes below and says how its files are found
    (:meth:`list_samples`) and decoded (:meth:`build_ann_decoders`).

    Each sample carries ``img_path``, ``ann_paths`` ({task: file}),
    ``domain`` and ``sample_id``; :class:`LoadMultiTaskAnnotations` decodes
    the maps with ``ann_decoders``.

    Args:
        data_root: dataset root (from the config).
        tasks: tasks to load, a subset of :attr:`TASKS`.
        label_map: None, a shared label set name or
            ``dict(classes=..., mapping={source_id: shared_id})``.
        domain: name stored with every sample.
        ann_file: the split list, relative to ``data_root``, if any.
        metainfo: metainfo over the class's ``METAINFO``.
        **kwargs: passed to ``mmengine.dataset.BaseDataset``.
    """
    #: the dataset's name in messages
    NAME: str = ''
    #: its key in :data:`~s4t_mm.datasets.label_maps.SOURCE_CLASSES`
    SOURCE: str = ''
    #: the tasks it can load
    TASKS: Sequence[str] = ()
    #: the expected file layout, shown by every error about files
    LAYOUT: str = ''

    def __init__(self,
                 data_root: str,
                 tasks: Sequence[str],
                 label_map: Union[None, str, dict] = None,
                 domain: str = '',
                 ann_file: str = '',
                 metainfo: Optional[dict] = None,
                 **kwargs) -> None:
        unknown = sorted(set(tasks) - set(self.TASKS))
        if unknown:
            raise ValueError(f'unknown {self.NAME} tasks {unknown}; valid: '
                             f'{", ".join(self.TASKS)}')
        self.tasks = tuple(tasks)
        self.domain = domain
        label_map = resolve_label_map(label_map, self.SOURCE)
        self.ann_decoders = self.build_ann_decoders(
            label_map and label_map['mapping'])
        metainfo = dict(metainfo or {})
        if label_map is not None:
            metainfo.setdefault('classes', label_map['classes'])
        metainfo.setdefault('tasks', self.tasks)
        super().__init__(
            ann_file=ann_file,
            data_root=data_root,
            metainfo=metainfo,
            **kwargs)

    def build_ann_decoders(self, label_mapping: Optional[Dict[int, int]]
                           ) -> Dict[str, dict]:
        """``{task: decoder config}`` of every task in :attr:`TASKS`;
        ``label_mapping`` ({source id: shared id} or None) is the semantic
        labels'."""
        raise NotImplementedError

    def list_samples(self) -> List[dict]:
        """Every sample (see :meth:`sample`), once ``data_root`` exists."""
        raise NotImplementedError

    def load_data_list(self) -> List[dict]:
        if not osp.isdir(self.data_root):
            raise FileNotFoundError(
                f'{self.NAME} data_root {self.data_root!r} does not exist; '
                f'expected layout:\n{self.LAYOUT}')
        return self.list_samples()

    def sample(self, img_path: str, ann_paths: dict, sample_id: str) -> dict:
        return dict(img_path=img_path, ann_paths=ann_paths,
                    domain=self.domain, sample_id=sample_id)

    def read_split(self, split: str) -> List[str]:
        """The sample ids listed one per line in ``ann_file``."""
        if not osp.isfile(self.ann_file):
            raise FileNotFoundError(
                f'{self.NAME} split list {self.ann_file} not found '
                f'(data_root={self.data_root!r}, split={split!r}); expected '
                f'layout:\n{self.LAYOUT}')
        with open(self.ann_file) as f:
            return [line.strip() for line in f if line.strip()]

    def check_files(self, missing: Sequence[str]) -> None:
        """Raise naming the ``missing`` files of the split list, if any."""
        if missing:
            raise FileNotFoundError(
                f'{len(missing)} {self.NAME} files listed by {self.ann_file} '
                f'are missing, e.g. {list(missing[:3])}; expected layout:\n'
                f'{self.LAYOUT}')

    def get_data_info(self, idx: int) -> dict:
        data_info = super().get_data_info(idx)
        data_info['ann_decoders'] = self.ann_decoders
        return data_info
