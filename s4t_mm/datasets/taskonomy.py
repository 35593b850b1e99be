"""Taskonomy for multi-task dense prediction."""
import csv
import json
import logging
import os
import os.path as osp
import re
from collections import Counter
from typing import Dict, Optional, Sequence, Tuple, Union

import numpy as np
from mmengine.logging import print_log
from scipy.ndimage import gaussian_filter

from s4t_mm.datasets.base_multi_task_dataset import BaseMultiTaskDataset
from s4t_mm.datasets.label_maps import TASKONOMY_CLASSES
from s4t_mm.datasets.transforms.loading import (_mask_depth, _read_png,
                                                _single_channel,
                                                register_ann_decoder)
from s4t_mm.registry import DATASETS

TASKONOMY_LAYOUT = """\
<data_root>/<domain>/taskonomy/<building>/
    point_<p>_view_<v>_domain_<domain>.png
  domain rgb              RGB image
  domain segment_semantic uint8 class ids (0..17)
  domain depth_zbuffer    uint16, 1/512 m per unit, 65535 = invalid
  domain normal           RGB, n = -(2 * v / 255 - 1)
  domain edge_occlusion   uint16 occlusion-edge strength
<data_root>/point_info/taskonomy/<building>/
    point_<p>_view_<v>_domain_point_info.json   optional camera metadata
  (field_of_view_rads: horizontal FOV; resolution: its image width)
buildings: a list in the config, or a file (.txt: one per line; .csv: the
official split table with a header row: building,train,val,test)"""

_VIEW_FILE = re.compile(r'^point_(\d+)_view_(\d+)_domain_(\w+)(\.png|\.json)$')
POINT_INFO_DOMAIN = 'point_info'

# The reference scales edge_occlusion by 0.00625 * 2**16 into [-1, 1]; an
# edge is where that target is positive, i.e. a raw value above half scale.
EDGE_OCCLUSION_SCALE = 0.00625 * 2**16
EDGE_OCCLUSION_THRESHOLD = 0.5 * EDGE_OCCLUSION_SCALE
# The reference blurs the edge strength with sigma 4 after resizing the
# 512x512 files to 256x256: sigma 8 in pixels of the stored files.
EDGE_STRENGTH_BLUR_SIGMA = 8.0
DEPTH_UNITS = ('metres', 'log_normalised')
EDGE_TARGETS = ('binary', 'strength')
VIEW_ORDERS = ('numeric', 'filename')


@register_ann_decoder('taskonomy_log_depth_png')
def decode_taskonomy_log_depth_png(
        data: bytes, invalid_values: Sequence[int] = (65535, )):
    """Depth as ``log(1 + v) / log(2^16)`` of the stored uint16 ``v``, in
    [0, 1]: the units the S4T reference trains and scores Taskonomy depth
    in. Stored ``invalid_values`` become ignore."""
    raw = _single_channel(_read_png(data))
    depth = np.log1p(raw.astype(np.float64)) / np.log(2.0**16)
    return _mask_depth(depth.astype(np.float32), raw, invalid_values)


@register_ann_decoder('taskonomy_edge_strength_png')
def decode_taskonomy_edge_strength_png(
        data: bytes, scale: float = EDGE_OCCLUSION_SCALE,
        blur_sigma: float = EDGE_STRENGTH_BLUR_SIGMA):
    """Occlusion-edge strength ``2 * v / scale - 1`` (not clipped, so strong
    edges exceed 1), Gaussian-blurred with ``blur_sigma`` pixels (0: none):
    the S4T reference's regression target for Taskonomy edges."""
    raw = _single_channel(_read_png(data)).astype(np.float64)
    strength = raw * (2 / scale) - 1
    if blur_sigma > 0:
        strength = gaussian_filter(strength, sigma=blur_sigma)
    return strength.astype(np.float32)


def point_info_intrinsics(path: str) -> list:
    """The (3, 3) camera matrix, as nested lists, of a Taskonomy view from
    its ``point_info`` JSON: ``f = resolution / 2 / tan(fov / 2)`` with the
    horizontal ``field_of_view_rads``, square pixels and the principal
    point at the centre of the ``resolution``-wide square image (pixel
    centres at integer coordinates)."""
    with open(path) as f:
        info = json.load(f)
    missing = [k for k in ('field_of_view_rads', 'resolution')
               if k not in info]
    if missing:
        raise KeyError(f'Taskonomy point_info {path} has no {missing}; '
                       f'its keys: {sorted(info)}')
    size = float(info['resolution'])
    focal = 0.5 * size / np.tan(0.5 * float(info['field_of_view_rads']))
    centre = 0.5 * size - 0.5
    return [[focal, 0.0, centre], [0.0, focal, centre], [0.0, 0.0, 1.0]]


@DATASETS.register_module()
class TaskonomyDataset(BaseMultiTaskDataset):
    """Taskonomy views with semseg, depth, normals and edges.

    Files of one view are paired by the ``(building, point, view)`` parsed
    from their names, never by listing order. A view of the RGB folder that
    lacks a requested task file is skipped (``on_missing='skip'``, one
    warning counting the skips per task) or is an error
    (``on_missing='error'``); the same holds for buildings without an RGB
    folder. Samples are ordered by building (as listed), then by point and
    view (``view_order='numeric'``) or by file name (``'filename'``: the
    order of the S4T reference's sorted directory listing, where point_10
    comes before point_2; it decides which views form the first batch).
    Where a view has a ``point_info`` JSON, its sample carries the camera
    matrix ``cam2img`` of the stored image (focal length ``resolution / 2 /
    tan(field_of_view_rads / 2)``, square pixels, centred principal point),
    for :class:`CanonicalCamera` and the consistency energy.

    Args:
        data_root: dataset root (from the config).
        buildings: building names, or a .txt / .csv file (relative to
            ``data_root`` unless absolute) naming them.
        split_columns: with a .csv, the columns (``train``, ``val``,
            ``test``) whose value 1 selects a building.
        tasks: subset of semseg, depth, normals, edge.
        label_map: None, a shared label set name (``'nyud_taskonomy'``,
            ``'pascal_taskonomy'``) or dict(classes=..., mapping={...}).
        normal_signs: per-axis sign applied to ``2 * v / 255 - 1``; the
            default (-1, -1, -1) is the reference's decoding, which puts
            Taskonomy normals in the frame of the NYUD-v2 ones.
        depth_units: ``'metres'`` or ``'log_normalised'``
            (``log(1 + v) / log(2^16)`` of the stored value ``v``, the units
            of the S4T reference, in which it trains a Taskonomy source
            model and scores a Taskonomy target).
        edge_target: ``'binary'`` (an edge where the stored value exceeds
            ``edge_threshold``, for BCE training and F-measures) or
            ``'strength'`` (the reference's continuous target: the stored
            value scaled by ``0.00625 * 2^16`` into [-1, 1], unclipped, and
            blurred with ``edge_blur_sigma``), for L1 regression and the
            reference's edge error.
        edge_threshold: raw ``edge_occlusion`` value above which a pixel
            is an edge (``edge_target='binary'``).
        edge_blur_sigma: Gaussian blur of the strength target in pixels of
            the stored files (default: the reference's 4 at 256x256 for
            512x512 files).
        view_order: ``'numeric'`` or ``'filename'``, see above.
        on_missing: 'skip' or 'error' for incomplete views and buildings.
        domain: name stored with every sample.
        **kwargs: passed to :class:`BaseMultiTaskDataset`.
    """
    METAINFO = dict(classes=TASKONOMY_CLASSES)
    NAME = 'Taskonomy'
    SOURCE = 'taskonomy'
    LAYOUT = TASKONOMY_LAYOUT
    IMG_DOMAIN = 'rgb'
    TASK_DOMAINS = dict(
        semseg='segment_semantic',
        depth='depth_zbuffer',
        normals='normal',
        edge='edge_occlusion')
    TASKS = tuple(TASK_DOMAINS)

    def __init__(self,
                 data_root: str,
                 buildings: Union[str, Sequence[str]],
                 split_columns: Sequence[str] = ('train', ),
                 tasks: Sequence[str] = ('semseg', 'depth', 'normals',
                                         'edge'),
                 label_map: Union[None, str, dict] = None,
                 normal_signs: Sequence[float] = (-1., -1., -1.),
                 depth_units: str = 'metres',
                 edge_target: str = 'binary',
                 edge_threshold: float = EDGE_OCCLUSION_THRESHOLD,
                 edge_blur_sigma: float = EDGE_STRENGTH_BLUR_SIGMA,
                 view_order: str = 'numeric',
                 on_missing: str = 'skip',
                 domain: str = 'taskonomy',
                 metainfo: Optional[dict] = None,
                 **kwargs) -> None:
        for name, value, valid in (('depth_units', depth_units, DEPTH_UNITS),
                                   ('edge_target', edge_target, EDGE_TARGETS),
                                   ('view_order', view_order, VIEW_ORDERS)):
            if value not in valid:
                raise ValueError(f'unknown {name} {value!r}; valid: '
                                 f'{", ".join(valid)}')
        if edge_blur_sigma < 0:
            raise ValueError(f'edge_blur_sigma must be >= 0 pixels, got '
                             f'{edge_blur_sigma}')
        if on_missing not in ('skip', 'error'):
            raise ValueError(f"on_missing must be 'skip' or 'error', got "
                             f'{on_missing!r}')
        self.buildings = buildings
        self.split_columns = tuple(split_columns)
        self.normal_signs = tuple(normal_signs)
        self.depth_units = depth_units
        self.edge_target = edge_target
        self.edge_threshold = edge_threshold
        self.edge_blur_sigma = edge_blur_sigma
        self.on_missing = on_missing
        self.view_order = view_order
        super().__init__(
            data_root=data_root,
            tasks=tasks,
            label_map=label_map,
            domain=domain,
            metainfo=metainfo,
            **kwargs)

    def build_ann_decoders(self, label_mapping):
        return dict(
            semseg=dict(type='class_png', label_map=label_mapping),
            depth=dict(
                type='depth_png', scale=1 / 512, invalid_values=(65535, ))
            if self.depth_units == 'metres' else dict(
                type='taskonomy_log_depth_png', invalid_values=(65535, )),
            normals=dict(type='normals_png', signs=self.normal_signs),
            edge=dict(type='binary_png', threshold=self.edge_threshold)
            if self.edge_target == 'binary' else dict(
                type='taskonomy_edge_strength_png',
                blur_sigma=self.edge_blur_sigma))

    def list_samples(self) -> list:
        data_list, skipped = [], Counter()
        for building in self._building_list():
            views = self._list_views(building, self.IMG_DOMAIN)
            if views is None:
                self._missing(f'building {building!r} has no folder '
                              f'{self._folder(building, self.IMG_DOMAIN)}')
                skipped['building'] += 1
                continue
            task_views = {
                task: self._list_views(building, d) or {}
                for task, d in self.TASK_DOMAINS.items() if task in self.tasks
            }
            point_info = self._list_views(building, POINT_INFO_DOMAIN,
                                          '.json') or {}
            order = None if self.view_order == 'numeric' else \
                (lambda k: osp.basename(views[k]))
            for key in sorted(views, key=order):
                lacking = [t for t, v in task_views.items() if key not in v]
                if lacking:
                    domain = self.TASK_DOMAINS[lacking[0]]
                    self._missing(
                        f'view {views[key]} has no {lacking[0]} file '
                        f'{self._view_path(building, domain, key)}')
                    skipped.update(lacking)
                    continue
                data_list.append(self.sample(
                    views[key], {t: v[key] for t, v in task_views.items()},
                    f'{building}/point_{key[0]}_view_{key[1]}'))
                if key in point_info:
                    data_list[-1]['point_info_path'] = point_info[key]
        if skipped:
            print_log(
                f'Taskonomy: skipped incomplete data under {self.data_root} '
                f'(missing per task/building: {dict(skipped)})',
                logger='current',
                level=logging.WARNING)
        if not data_list:
            raise FileNotFoundError(
                f'no complete Taskonomy views under {self.data_root!r} for '
                f'buildings {self._building_list()} and tasks '
                f'{list(self.tasks)}; expected layout:\n{TASKONOMY_LAYOUT}')
        return data_list

    def get_data_info(self, idx: int) -> dict:
        info = super().get_data_info(idx)
        path = info.pop('point_info_path', None)
        if path is not None:
            info['cam2img'] = point_info_intrinsics(path)
        return info

    def _building_list(self) -> list:
        if not isinstance(self.buildings, str):
            return list(self.buildings)
        path = self.buildings
        if not osp.isabs(path):
            path = osp.join(self.data_root, path)
        if not osp.isfile(path):
            raise FileNotFoundError(f'Taskonomy building list {path} not '
                                    f'found')
        with open(path) as f:
            if not path.endswith('.csv'):
                return [line.strip() for line in f if line.strip()]
            rows = list(csv.DictReader(f))
        if rows and not set(self.split_columns) <= set(rows[0]):
            raise KeyError(f'split_columns {self.split_columns} not all in '
                           f'the columns {list(rows[0])} of {path}')
        first = next(iter(rows[0])) if rows else None
        return [
            row[first] for row in rows
            if any(row[c].strip() == '1' for c in self.split_columns)
        ]

    def _folder(self, building: str, domain: str) -> str:
        return osp.join(self.data_root, domain, 'taskonomy', building)

    def _view_path(self, building: str, domain: str,
                   key: Tuple[int, int]) -> str:
        return osp.join(
            self._folder(building, domain),
            f'point_{key[0]}_view_{key[1]}_domain_{domain}.png')

    def _list_views(self, building: str, domain: str, suffix: str = '.png'
                    ) -> Optional[Dict[Tuple[int, int], str]]:
        """``{(point, view): path}`` of one building and domain (files
        ending in ``suffix``), or None when its folder does not exist."""
        folder = self._folder(building, domain)
        if not osp.isdir(folder):
            return None
        views = {}
        with os.scandir(folder) as entries:
            for entry in entries:
                match = _VIEW_FILE.match(entry.name)
                if match and match.group(3) == domain and \
                        match.group(4) == suffix:
                    key = (int(match.group(1)), int(match.group(2)))
                    views[key] = entry.path
        return views

    def _missing(self, message: str) -> None:
        if self.on_missing == 'error':
            raise FileNotFoundError(f'Taskonomy: {message}; expected '
                                    f'layout:\n{TASKONOMY_LAYOUT}')
