"""A procedural multi-task dataset: indoor scenes ray-cast in numpy.

Every sample is a room with objects seen from a random camera, with
exact semantic, depth, normal, occlusion-edge and saliency labels. The
appearance comes from a *style* (see :mod:`.synthetic.styles`), so a
``source`` style and ``target_*`` styles form paired domains with the same
geometry distribution. A *geometry* preset (see :data:`.synthetic.GEOMETRIES`)
changes the scenes themselves (camera, room layout, object sizes, density
and classes): structural shifts that re-estimating normalisation statistics
cannot undo alone. Test-time adaptation experiments run on them in minutes,
without downloads.
"""
import os
import os.path as osp
import tempfile
import zlib
from typing import Dict, Optional, Sequence, Tuple, Union

import numpy as np
from mmengine.dataset import BaseDataset
from mmengine.logging import print_log
from mmengine.utils import ProgressBar

from s4t_mm.registry import DATASETS
from .synthetic import (CLASS_NAMES, GEOMETRIES, STYLES, cast_camera_rays,
                        get_geometry, get_style, occlusion_edges, sample_scene,
                        shade)

SPLITS = ('train', 'val', 'test')
TASKS = ('semseg', 'depth', 'normals', 'edge', 'saliency')
# Bump when rendering changes, so stale caches are not reused.
RENDER_VERSION = 1

# Storage dtypes in the cache; labels are handed out as float32 (or uint8
# for semseg) whatever they were stored as.
_CACHE_DTYPES = dict(img=np.uint8, semseg=np.uint8, depth=np.float32,
                     normals=np.float32, edge=np.uint8, saliency=np.uint8)


def _as_size(img_size) -> Tuple[int, int]:
    size = (img_size, img_size) if isinstance(img_size, int) else tuple(
        img_size)
    if len(size) != 2 or not all(
            isinstance(s, (int, np.integer)) and s >= 8 for s in size):
        raise ValueError(f'img_size must be an int or (height, width) of '
                         f'ints >= 8, got {img_size!r}')
    return int(size[0]), int(size[1])


def sample_rngs(seed: int, split: str, index: int,
                style: str) -> Tuple[np.random.Generator, np.random.Generator]:
    """Generators for the geometry and the appearance of one sample.

    Both derive from ``(seed, split, index)`` alone, so sample ``index`` is
    the same on every machine and splits never share a scene; the geometry
    generator ignores the style, which pairs the domains sample by sample
    (within one geometry preset).
    """
    key = [seed, SPLITS.index(split), index]
    geometry = np.random.default_rng(np.random.SeedSequence(key + [0]))
    appearance = np.random.default_rng(
        np.random.SeedSequence(key + [1, zlib.crc32(style.encode())]))
    return geometry, appearance


def sample_intrinsics(split: str, index: int, seed: int = 0,
                      img_size: Union[int, Sequence[int]] = 128,
                      geometry: str = 'source') -> np.ndarray:
    """The (3, 3) camera matrix of sample ``index`` (``cam2img``, see
    :meth:`.synthetic.Camera.intrinsics`), drawn as :func:`render_sample`
    draws its scene but without rendering it (the style does not change
    the scene)."""
    height, width = _as_size(img_size)
    geometry_rng, _ = sample_rngs(seed, split, index, 'source')
    scene = sample_scene(geometry_rng, get_geometry(geometry))
    return scene.camera.intrinsics(height, width)


def render_sample(style: str,
                  split: str,
                  index: int,
                  seed: int = 0,
                  img_size: Union[int, Sequence[int]] = 128,
                  edge_threshold: float = 0.1,
                  geometry: str = 'source') -> Dict[str, np.ndarray]:
    """Render sample ``index`` of a split in a ``style`` and a ``geometry``
    preset: image and all five label maps.

    Returns:
        dict with ``img`` (H, W, 3) uint8 BGR, ``semseg`` (H, W) uint8 ids
        of :data:`CLASS_NAMES`, ``depth`` (H, W) float32 camera-z metres,
        ``normals`` (H, W, 3) float32 unit camera-frame (OpenCV axes),
        ``edge`` and ``saliency`` (H, W) float32 in {0, 1}.
    """
    height, width = _as_size(img_size)
    geometry_rng, appearance_rng = sample_rngs(seed, split, index, style)
    scene = sample_scene(geometry_rng, get_geometry(geometry))
    geometry = cast_camera_rays(scene, height, width)
    image = shade(scene, geometry, get_style(style), appearance_rng)
    return dict(
        img=np.ascontiguousarray(image[..., ::-1]),
        semseg=geometry.semseg,
        depth=geometry.depth,
        normals=geometry.normals,
        edge=occlusion_edges(geometry.depth, geometry.instance,
                             edge_threshold).astype(np.float32),
        saliency=(geometry.instance > 0).astype(np.float32))


@DATASETS.register_module()
class SyntheticWorldDataset(BaseDataset):
    """Procedural indoor scenes with five dense tasks, in a chosen style.

    Sample ``i`` of a split is rendered on demand from ``(seed, split, i)``
    (or read from ``cache_dir``), identically on any machine; the same
    ``(seed, split, i)`` in another style shows the same scene with the same
    labels. ``sample_idx`` of a sample is ``i`` even under ``indices``.

    Args:
        style: appearance style, one of ``STYLES`` ('source', 'target_warm',
            'target_cool', 'val_overcast'; the ``val_`` style is meant for
            hyper-parameter selection only).
        geometry: scene distribution, one of ``GEOMETRIES`` ('source',
            'wide_fov_low', 'cluttered_small', 'corridor', 'hall',
            'round_objects', 'narrow_fov_high'; the last is meant for
            hyper-parameter selection only). Independent of ``style``.
        split: 'train', 'val' or 'test'; each has its own scenes.
        num_samples: samples in the split.
        img_size: int or (height, width) of the rendered images.
        seed: dataset seed; another seed gives other scenes.
        tasks: label maps to provide, a subset of ``TASKS``.
        edge_threshold: relative depth jump that makes an occlusion edge.
        cache_dir: if given, the split is rendered once into an ``.npz``
            there and read back from it.
        **kwargs: :class:`mmengine.dataset.BaseDataset` arguments
            (``pipeline``, ``test_mode``, ``indices``, ``lazy_init``, ...).

    Each sample is a dict with ``img`` (H, W, 3) uint8 BGR, ``tasks``,
    ``gt_<task>`` maps in the s4t_mm label conventions, ``img_path``
    (``'synthetic://<domain>/<split>/<i>'``), ``ori_shape``, ``img_shape``,
    ``cam2img`` (the camera's (3, 3) pinhole matrix as nested lists, see
    :func:`sample_intrinsics`; the renderer's camera, so it is exact) and
    ``domain``: the style, or ``'<geometry>+<style>'`` for a geometry other
    than 'source'.
    """
    METAINFO = dict(
        classes=CLASS_NAMES,
        palette=[[128, 64, 128], [190, 153, 153], [70, 130, 180],
                 [220, 20, 60], [250, 170, 30], [0, 142, 0]],
        tasks=TASKS,
        styles=tuple(STYLES),
        geometries=tuple(GEOMETRIES))

    def __init__(self,
                 style: str = 'source',
                 geometry: str = 'source',
                 split: str = 'train',
                 num_samples: int = 1000,
                 img_size: Union[int, Sequence[int]] = 128,
                 seed: int = 0,
                 tasks: Sequence[str] = TASKS,
                 edge_threshold: float = 0.1,
                 cache_dir: Optional[str] = None,
                 **kwargs):
        get_style(style)
        get_geometry(geometry)
        if split not in SPLITS:
            raise ValueError(f'unknown split {split!r}; valid splits: '
                             f'{", ".join(SPLITS)}')
        unknown = [t for t in tasks if t not in TASKS]
        if unknown or not tasks:
            raise ValueError(f'unknown tasks {unknown or list(tasks)!r}; '
                             f'choose a non-empty subset of '
                             f'{", ".join(TASKS)}')
        if num_samples < 1:
            raise ValueError(f'num_samples must be >= 1, got {num_samples}')
        if seed < 0:
            raise ValueError(f'seed must be >= 0, got {seed}')
        self.style = style
        self.geometry = geometry
        self.split = split
        self.num_samples = int(num_samples)
        self.img_size = _as_size(img_size)
        self.seed = int(seed)
        self.tasks = tuple(tasks)
        self.edge_threshold = float(edge_threshold)
        self.cache_dir = cache_dir
        self._cache: Optional[Dict[str, np.ndarray]] = None
        super().__init__(**kwargs)

    def load_data_list(self):
        if self.cache_dir is not None:
            self._cache = self._load_or_build_cache()
        return [
            dict(
                scene_idx=i,
                style=self.style,
                geometry=self.geometry,
                split=self.split,
                img_path=f'synthetic://{self.domain}/{self.split}/{i}')
            for i in range(self.num_samples)
        ]

    def get_data_info(self, idx: int) -> dict:
        info = super().get_data_info(idx)
        i = info['scene_idx']
        info['sample_idx'] = i
        if self._cache is not None:
            # copies: transforms may modify the maps in place
            maps = {k: v[i].copy() for k, v in self._cache.items()}
        else:
            maps = self._render(i)
        info.update(
            img=maps['img'],
            tasks=list(self.tasks),
            ori_shape=self.img_size,
            img_shape=self.img_size,
            cam2img=sample_intrinsics(self.split, i, self.seed,
                                      self.img_size, self.geometry).tolist(),
            domain=self.domain)
        for task in self.tasks:
            gt = maps[task]
            info[f'gt_{task}'] = gt if task == 'semseg' else gt.astype(
                np.float32)
        return info

    def _render(self, i):
        return render_sample(self.style, self.split, i, self.seed,
                             self.img_size, self.edge_threshold, self.geometry)

    @property
    def domain(self) -> str:
        """The style, prefixed by the geometry preset unless that is the
        source's (which keeps the names, and caches, made before presets)."""
        if self.geometry == 'source':
            return self.style
        return f'{self.geometry}+{self.style}'

    @property
    def cache_path(self) -> str:
        """Where this split's cache lives; the name holds every argument
        that changes the rendered arrays."""
        height, width = self.img_size
        name = (f'synthetic_v{RENDER_VERSION}_{self.domain}_{self.split}_'
                f'seed{self.seed}_n{self.num_samples}_{height}x{width}_'
                f'{"-".join(self.tasks)}_edge{self.edge_threshold:g}.npz')
        return osp.join(self.cache_dir, name)

    def _load_or_build_cache(self) -> Dict[str, np.ndarray]:
        path = self.cache_path
        if not osp.exists(path):
            self._build_cache(path)
        with np.load(path) as cached:
            return {key: cached[key] for key in cached.files}

    def _build_cache(self, path):
        print_log(
            f'rendering {self.num_samples} synthetic samples into {path}',
            logger='current')
        keys = ('img', ) + self.tasks
        arrays = {}
        progress = ProgressBar(self.num_samples)
        for i in range(self.num_samples):
            maps = self._render(i)
            for key in keys:
                if key not in arrays:
                    arrays[key] = np.empty(
                        (self.num_samples, ) + maps[key].shape,
                        dtype=_CACHE_DTYPES[key])
                arrays[key][i] = maps[key]
            progress.update()
        os.makedirs(self.cache_dir, exist_ok=True)
        # write next to the target and rename: readers never see a partial
        # file, and concurrent writers (one per rank) simply race to rename
        fd, tmp = tempfile.mkstemp(dir=self.cache_dir, suffix='.npz.tmp')
        try:
            with os.fdopen(fd, 'wb') as f:
                np.savez_compressed(f, **arrays)
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
