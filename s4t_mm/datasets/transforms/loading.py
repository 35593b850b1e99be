"""Load the dense label maps of several tasks, each in its dataset's format.

A dataset declares *how* to decode each task's file as data: per sample
``results['ann_paths'] = {task: path}`` and per dataset
``results['ann_decoders'] = {task: dict(type=<format>, **options)}``. The
formats are the decoder functions registered below with
:func:`register_ann_decoder`; a new file format is one more decoder, never a
branch in the loader. Images are loaded by mmcv's ``LoadImageFromFile``.
"""
import io
from typing import Callable, Dict, Mapping, Optional, Sequence, Union

import cv2
import mmengine.fileio as fileio
import numpy as np
import scipy.io
from mmcv.transforms import BaseTransform
from PIL import Image

from s4t_mm.datasets.label_maps import apply_label_map
from s4t_mm.datasets.transforms.geometric import resize_nearest
from s4t_mm.registry import TRANSFORMS
from s4t_mm.structures.task_maps import IGNORE_INDEX, task_map_spec

ANN_DECODERS: Dict[str, Callable] = {}


def register_ann_decoder(name: str) -> Callable:
    """Register ``fn(data: bytes, **options) -> map`` as format ``name``.

    A decoder returns the task's map in the pipeline convention (see
    ``task_maps.py``) or a scalar for a map that is constant over the image
    (it then takes the shape of the loaded image).
    """

    def register(fn: Callable) -> Callable:
        if name in ANN_DECODERS:
            raise KeyError(f'annotation decoder {name!r} already registered')
        ANN_DECODERS[name] = fn
        return fn

    return register


def _read_png(data: bytes) -> np.ndarray:
    """Pixel values as stored: palette indices, 16-bit values, RGB order."""
    with Image.open(io.BytesIO(data)) as img:
        return np.array(img)


def _single_channel(raw: np.ndarray) -> np.ndarray:
    return raw[..., 0] if raw.ndim == 3 else raw


@register_ann_decoder('class_png')
def decode_class_png(data: bytes,
                     reduce_zero_label: bool = False,
                     label_map: Optional[Mapping[int, int]] = None):
    """Class ids from a single-channel (or palette) PNG; 255 stays ignore.

    ``reduce_zero_label`` treats stored 0 as unlabeled and shifts 1..N to
    0..N-1; ``label_map`` then maps ids into a shared label set.
    """
    raw = _read_png(data)
    if raw.ndim != 2:
        raise ValueError(f'expected a single-channel class map, got shape '
                         f'{raw.shape}')
    if raw.dtype == np.uint8:
        # every id depends on the stored byte alone: decode the 256 values
        # once and look the pixels up (uint8, as the general path returns)
        lut = _class_ids(np.arange(256, dtype=np.uint8), reduce_zero_label,
                         label_map)
        return lut.take(raw)
    return _class_ids(raw, reduce_zero_label, label_map)


def _class_ids(raw: np.ndarray, reduce_zero_label: bool,
               label_map: Optional[Mapping[int, int]]) -> np.ndarray:
    labels = raw.astype(np.int64)
    if reduce_zero_label:
        ignore = (raw == 0) | (raw == IGNORE_INDEX)
        labels -= 1
        labels[ignore] = IGNORE_INDEX
    if label_map is not None:
        return apply_label_map(labels, label_map)
    return labels.astype(np.uint8) if labels.max(initial=0) <= 255 else labels


@register_ann_decoder('depth_npy')
def decode_depth_npy(data: bytes, invalid_values: Sequence[float] = (0, )):
    """Depth in metres from a ``.npy`` array; invalid values -> ignore."""
    raw = np.load(io.BytesIO(data), allow_pickle=False)
    return _mask_depth(raw.astype(np.float32), raw, invalid_values)


@register_ann_decoder('depth_png')
def decode_depth_png(data: bytes,
                     scale: float = 1 / 512,
                     invalid_values: Sequence[int] = (65535, )):
    """Depth from an integer PNG in units of ``1 / scale`` metres."""
    raw = _single_channel(_read_png(data))
    return _mask_depth(raw.astype(np.float32) * scale, raw, invalid_values)


def _mask_depth(depth, raw, invalid_values):
    invalid = np.isin(raw, invalid_values) | ~np.isfinite(depth)
    depth[invalid] = IGNORE_INDEX
    return depth


@register_ann_decoder('normals_png')
def decode_normals_png(data: bytes,
                       signs: Sequence[float] = (1., 1., 1.),
                       zero_is_ignore: bool = False,
                       min_norm: float = 0.5,
                       label_file: Optional[bytes] = None,
                       label_key: str = 'LabelMap',
                       valid_labels: Optional[Sequence[int]] = None):
    """Unit normals from an 8-bit RGB PNG storing ``(n + 1) * 255 / 2``.

    ``signs`` flips axes so every dataset lands in one camera frame.
    Ignored: all-zero pixels when ``zero_is_ignore``, near-zero vectors
    (norm < ``min_norm``, e.g. grey fill), and, when ``valid_labels`` is
    given, pixels whose label in ``label_file`` (a .mat) is not listed.

    Returns:
        (H, W, 3) float32: ``v = (raw * (2 / 255) - 1) * signs`` divided by
        ``max(|v|, 1e-6)``, ignored pixels 255.
    """
    raw = _read_png(data)
    if raw.ndim != 3 or raw.shape[2] < 3:
        raise ValueError(f'expected an RGB normal map, got shape {raw.shape}')
    if raw.dtype != np.uint8:
        raise ValueError(f'expected an 8-bit RGB normal map, got dtype '
                         f'{raw.dtype}')
    # Each component depends on its stored byte alone: a 256-entry table
    # per channel, looked up plane by plane (numpy is slow on the short last
    # axis). The norm sums the squares in the order np.linalg.norm(axis=2)
    # does, (x0 + x1) + x2, so the result is the same to the bit.
    table = (np.arange(256, dtype=np.uint8)[:, None].astype(np.float32) *
             (2 / 255) - 1) * np.asarray(signs, dtype=np.float32)
    stored = cv2.split(raw)[:3]
    planes = [
        cv2.LUT(channel, np.ascontiguousarray(table[:, c]))
        for c, channel in enumerate(stored)
    ]
    # in place where possible: fresh pages cost a worker as much as math
    norm = planes[0] * planes[0]
    square = planes[1] * planes[1]
    norm += square
    np.multiply(planes[2], planes[2], out=square)
    norm += square
    np.sqrt(norm, out=norm)
    invalid = norm < min_norm
    if zero_is_ignore:
        invalid |= (stored[0] == 0) & (stored[1] == 0) & (stored[2] == 0)
    if valid_labels is not None:
        labels = _load_mat_array(label_file, label_key)
        invalid |= ~np.isin(labels, valid_labels)
    scale = np.maximum(norm, 1e-6, out=norm)
    for plane in planes:
        plane /= scale
    normals = cv2.merge(planes)
    normals[invalid] = task_map_spec('normals').ignore_value
    return normals


@register_ann_decoder('binary_png')
def decode_binary_png(data: bytes, threshold: float = 0):
    """A {0, 1} map (edges, saliency): stored value > ``threshold`` is 1."""
    raw = _single_channel(_read_png(data))
    return (raw > threshold).astype(np.float32)


def _load_mat_array(data: Optional[bytes], key: str) -> np.ndarray:
    if data is None:
        raise ValueError('a label .mat file is required but none was given')
    mat = scipy.io.loadmat(io.BytesIO(data))
    if key not in mat:
        raise KeyError(f'.mat file has no variable {key!r}; it has '
                       f'{sorted(k for k in mat if not k.startswith("__"))}')
    return mat[key]


@register_ann_decoder('label_boundary_mat')
def decode_label_boundary_mat(data: bytes,
                              key: str = 'LabelMap',
                              thin: bool = True):
    """Edges where a label map (a .mat variable) changes value.

    A pixel is an edge when the 4-neighbour Laplacian of the label map is
    non-zero, optionally thinned to one pixel width (as PASCAL-Context
    multi-task edges are defined).
    """
    labels = _load_mat_array(data, key).astype(np.float64)
    edge = np.abs(cv2.Laplacian(labels, cv2.CV_64F)) > 0
    if thin:
        edge = thin_binary(edge)
    return edge.astype(np.float32)


def _guo_hall_tables():
    """Deletion tables of the two sub-iterations of Guo and Hall's
    thinning, indexed by the code of a pixel's 8 neighbours (bit i set when
    neighbour i is foreground, counter-clockwise from the right)."""
    code = np.arange(256)
    bit = [(code >> i & 1).astype(bool) for i in range(8)]
    crossings = sum(~bit[i] & (bit[i + 1] | bit[(i + 2) % 8])
                    for i in (0, 2, 4, 6))
    n1 = sum(bit[k] | bit[k - 1] for k in (1, 3, 5, 7))
    n2 = sum(bit[k] | bit[(k + 1) % 8] for k in (1, 3, 5, 7))
    g12 = (crossings == 1) & np.isin(np.minimum(n1, n2), (2, 3))
    g3 = ~((bit[1] | bit[2] | ~bit[7]) & bit[0])
    g3_prime = ~((bit[5] | bit[6] | ~bit[3]) & bit[4])
    return g12 & g3, g12 & g3_prime


_THINNING_TABLES = _guo_hall_tables()
# (dy, dx) of neighbour i, counter-clockwise from the right
_NEIGHBOURS = ((0, 1), (-1, 1), (-1, 0), (-1, -1), (0, -1), (1, -1), (1, 0),
               (1, 1))


def thin_binary(image: np.ndarray) -> np.ndarray:
    """``skimage.morphology.thin`` of a 2-D mask, pixel for pixel, visiting
    only the foreground pixels (an edge map is mostly background, so this
    is an order of magnitude faster than correlating the whole image).

    Args:
        image: (H, W), non-zero = foreground.

    Returns:
        (H, W) bool: the mask thinned to one pixel width, keeping its
        8-connected components.
    """
    height, width = image.shape
    padded = np.zeros((height + 2, width + 2), np.uint8)
    padded[1:-1, 1:-1] = image.astype(bool)
    flat = padded.ravel()
    offsets = [dy * (width + 2) + dx for dy, dx in _NEIGHBOURS]
    pixels = np.flatnonzero(flat)
    count = -1
    while pixels.size != count:
        count = pixels.size
        for table in _THINNING_TABLES:
            code = np.zeros(pixels.size, np.uint8)
            for i, offset in enumerate(offsets):
                code |= flat[pixels + offset] << i
            # a sub-iteration decides every pixel before it deletes any
            delete = table[code]
            flat[pixels[delete]] = 0
            pixels = pixels[~delete]
    return padded[1:-1, 1:-1].astype(bool)


@register_ann_decoder('pascal_parts_mat')
def decode_pascal_parts_mat(data: bytes,
                            part_ids: Mapping[str, int],
                            person_class: int = 15):
    """Human-part ids from a PASCAL-Part annotation (.mat ``anno`` struct).

    Parts of every object of class ``person_class`` are painted with
    ``part_ids[part_name]``; everything else is background 0. Without any
    annotated object the map is all background (a scalar 0).
    """
    anno = _load_mat_array(data, 'anno')[0, 0]
    objects = anno['objects'].ravel() if anno['objects'].size else []
    target = None
    for obj in objects:
        if target is None:
            target = np.zeros(obj['mask'].shape, dtype=np.uint8)
        if int(obj['class_ind'].ravel()[0]) != person_class:
            continue
        for part in obj['parts'].ravel():
            name = str(part['part_name'].ravel()[0])
            if name not in part_ids:
                raise KeyError(f'unknown human part {name!r}; part_ids has '
                               f'{sorted(part_ids)}')
            target[part['mask'].astype(bool)] = part_ids[name]
    return 0 if target is None else target


@TRANSFORMS.register_module()
class LoadMultiTaskAnnotations(BaseTransform):
    """Decode ``results['ann_paths'][task]`` into ``results['gt_<task>']``.

    Required keys: ``ann_paths`` ({task: path, or dict(path=..., <extra
    file option>=path) for decoders that read a second file}),
    ``ann_decoders`` ({task: dict(type=format, **options)}, set by the
    dataset) and ``img`` when a decoder returns a constant map or maps must
    match the image. Added keys: ``gt_<task>`` and ``tasks``.

    Args:
        tasks: tasks to load; None loads every task in ``ann_paths``.
        decoders: per-task decoder configs overriding the dataset's.
        resize_to_image: resize maps whose size differs from the image with
            nearest neighbour (the reference loaders do this); otherwise a
            size mismatch is an error naming the file.
        backend_args: mmengine file backend arguments.
    """

    def __init__(self,
                 tasks: Optional[Sequence[str]] = None,
                 decoders: Optional[Mapping[str, dict]] = None,
                 resize_to_image: bool = False,
                 backend_args: Optional[dict] = None) -> None:
        self.tasks = None if tasks is None else list(tasks)
        self.decoders = dict(decoders or {})
        self.resize_to_image = resize_to_image
        self.backend_args = backend_args

    def transform(self, results: dict) -> dict:
        ann_paths = results['ann_paths']
        decoders = {**results.get('ann_decoders', {}), **self.decoders}
        tasks = list(ann_paths) if self.tasks is None else self.tasks
        for task in tasks:
            if task not in ann_paths:
                raise KeyError(
                    f'sample {results.get("img_path")} has no annotation for '
                    f'task {task!r}; it has {sorted(ann_paths)}')
            if task not in decoders:
                raise KeyError(f'no decoder declared for task {task!r}; '
                               f'declared: {sorted(decoders)}')
            results[f'gt_{task}'] = self._load(task, ann_paths[task],
                                               decoders[task], results)
        results['tasks'] = tasks
        return results

    def _load(self, task: str, files: Union[str, Mapping[str, str]],
              decoder_cfg: dict, results: dict) -> np.ndarray:
        options = dict(decoder_cfg)
        fmt = options.pop('type')
        if fmt not in ANN_DECODERS:
            raise KeyError(f'unknown annotation format {fmt!r} for task '
                           f'{task!r}; registered: {sorted(ANN_DECODERS)}')
        if isinstance(files, str):
            files = dict(path=files)
        data = {name: self._read(task, path) for name, path in files.items()}
        try:
            gt = ANN_DECODERS[fmt](data.pop('path'), **data, **options)
        except Exception as err:
            raise ValueError(f'cannot decode the {task} annotation '
                             f'{_describe(files)} as {fmt!r}: {err}') from err
        img = results.get('img')
        if np.ndim(gt) == 0:
            if img is None:
                raise ValueError(f'{_describe(files)} decodes to a constant '
                                 f'map; load the image first to size it')
            integer = isinstance(gt, (int, np.integer))
            return np.full(
                img.shape[:2], gt, dtype=np.uint8 if integer else np.float32)
        if img is not None and gt.shape[:2] != img.shape[:2]:
            if not self.resize_to_image:
                raise ValueError(
                    f'the {task} map {_describe(files)} has size '
                    f'{gt.shape[:2]} but the image {results.get("img_path")} '
                    f'has {img.shape[:2]}; pass resize_to_image=True to '
                    f'resize maps to the image')
            gt = resize_nearest(gt, img.shape[:2])
        return gt

    def _read(self, task: str, path: str) -> bytes:
        try:
            return fileio.get(path, backend_args=self.backend_args)
        except FileNotFoundError as err:
            raise FileNotFoundError(
                f'{task} annotation file not found: {path}') from err

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(tasks={self.tasks}, '
                f'decoders={self.decoders}, '
                f'resize_to_image={self.resize_to_image})')


def _describe(files: Mapping[str, str]) -> str:
    return ', '.join(files.values())
