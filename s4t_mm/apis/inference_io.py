"""What :class:`MultiTaskInferencer` reads and writes: user images of any
kind in, readable pictures and raw maps out.

Inputs are file paths, folders, numpy arrays or video files. Every image
becomes a ``(H, W, 3)`` uint8 BGR array (the order of ``cv2.imread`` and of
OpenMMLab's pipelines): grayscale is repeated over three channels, an alpha
channel is dropped, 16-bit and float images are scaled to 8 bits. A file
that cannot be decoded (unreadable, truncated, not an image) is not an
error: it becomes an :class:`ImageItem` with ``error`` set, which the
inferencer skips and lists in its summary.

Every output file is written atomically (a temporary file renamed into
place), so an interrupted run never leaves a half-written file over the
result of an earlier one.
"""
import io
import os
import os.path as osp
from dataclasses import dataclass, field
from typing import Callable, Iterator, List, Optional, Sequence, Tuple

import cv2
import numpy as np
from PIL import Image, ImageOps

from s4t_mm.fileio import atomic_write_bytes
from s4t_mm.tasks import task_spec

IMAGE_EXTENSIONS = ('.bmp', '.jpeg', '.jpg', '.pgm', '.png', '.ppm',
                    '.tif', '.tiff', '.webp')
VIDEO_EXTENSIONS = ('.avi', '.m4v', '.mkv', '.mov', '.mp4', '.webm')
RAW_FORMATS = ('png', 'npy')


@dataclass
class ImageItem:
    """One input image.

    Attributes:
        name: output file stem, unique within a run.
        source: where it came from: a path, ``array[i]`` or
            ``video.mp4#frame``.
        index: position in the input stream (the sample index).
        image: ``(H, W, 3)`` uint8 BGR, or None when unreadable.
        converted_from: the original format when it was converted
            (``'uint16 gray'``, ``'uint8 rgba'``, ...), else None.
        error: why the image could not be read, or None.
    """
    name: str
    source: str
    index: int = 0
    image: Optional[np.ndarray] = field(default=None, repr=False)
    converted_from: Optional[str] = None
    error: Optional[str] = None


class UnreadableImage(ValueError):
    """An input that is not a decodable image."""


def to_bgr_uint8(array: np.ndarray, channel_order: str = 'bgr'
                 ) -> Tuple[np.ndarray, Optional[str]]:
    """``array`` as a ``(H, W, 3)`` uint8 BGR image, and a description of
    its original format when it had to be converted (else None).

    ``(H, W)`` and ``(H, W, 1)`` are grayscale, ``(H, W, 2)`` grayscale
    with alpha, ``(H, W, 4)`` colour with alpha (the alpha is dropped).
    uint16 is scaled by 255/65535, other integers by 255/65535 when they
    exceed 255 (by their maximum when they exceed 65535), floats by 255
    when they lie within [0, 1] (else clipped to 0..255); booleans become
    0/255.
    """
    array = np.asarray(array)
    if array.ndim == 2:
        array = array[..., None]
    if array.ndim != 3 or array.shape[2] not in (1, 2, 3, 4) or \
            min(array.shape[:2]) == 0:
        raise UnreadableImage(f'an image must be (H, W), (H, W, 1|2|3|4), '
                              f'got shape {array.shape}')
    channels = array.shape[2]
    kind = {1: 'gray', 2: 'gray+alpha', 3: channel_order,
            4: channel_order + 'a'}[channels]
    original = f'{array.dtype} {kind}'
    if channels in (2, 4):
        array = array[..., :channels - 1]
    array = _to_uint8(array)
    if array.shape[2] == 1:
        array = np.repeat(array, 3, axis=2)
    elif channel_order == 'rgb':
        array = array[..., ::-1]
    elif channel_order != 'bgr':
        raise ValueError(f"unknown channel_order {channel_order!r}; valid: "
                         "'bgr', 'rgb'")
    converted = original != 'uint8 bgr' and original != 'uint8 rgb'
    return np.ascontiguousarray(array), original if converted else None


def _to_uint8(array: np.ndarray) -> np.ndarray:
    if array.dtype == np.uint8:
        return array
    if array.dtype == np.bool_:
        return array.astype(np.uint8) * 255
    if np.issubdtype(array.dtype, np.floating):
        if not np.isfinite(array).all():
            raise UnreadableImage('the image has NaN or infinite values')
        if array.min() >= 0 and array.max() <= 1:
            array = array * 255.0
        return np.clip(np.rint(array), 0, 255).astype(np.uint8)
    if not np.issubdtype(array.dtype, np.integer):
        raise UnreadableImage(f'unsupported image dtype {array.dtype}')
    if array.dtype == np.uint16:
        top = 65535
    else:  # e.g. PIL's 32-bit 'I' mode holding a 16-bit image
        peak = int(array.max())
        top = 255 if peak <= 255 else 65535 if peak <= 65535 else peak
    array = np.clip(array.astype(np.float64), 0, None) * (255.0 / top)
    return np.clip(np.rint(array), 0, 255).astype(np.uint8)


def read_image(path: str) -> Tuple[np.ndarray, Optional[str]]:
    """Decode an image file completely (a truncated file is an error, not
    a half-grey image) into uint8 BGR; see :func:`to_bgr_uint8`. EXIF
    orientation is applied, as a photo viewer does."""
    try:
        with Image.open(path) as img:
            img = ImageOps.exif_transpose(img)
            img.load()
            if img.mode in ('P', 'PA'):
                img = img.convert('RGBA' if img.mode == 'PA' or
                                  'transparency' in img.info else 'RGB')
            elif img.mode == '1':
                img = img.convert('L')
            elif img.mode in ('CMYK', 'YCbCr', 'LAB', 'HSV'):
                img = img.convert('RGB')
            array = np.asarray(img)
    except (OSError, ValueError, SyntaxError,
            Image.DecompressionBombError) as err:
        raise UnreadableImage(f'{type(err).__name__}: {err}') from None
    if array.dtype.byteorder == '>':
        array = array.astype(array.dtype.newbyteorder('='))
    return to_bgr_uint8(array, channel_order='rgb')


def collect_inputs(inputs, extensions: Optional[Sequence[str]] = None
                   ) -> 'InputStream':
    """The images of ``inputs``: a path (image, video or folder), a numpy
    array (BGR, or grayscale), or a list of those.

    A folder contributes its files (not recursively, sorted by name) whose
    extension is in ``extensions`` (default: the image and video
    extensions); a folder without any is an error naming what it holds.
    An explicit file is read whatever its extension.
    """
    exts = _normalise_extensions(extensions)
    if isinstance(inputs, (str, os.PathLike, np.ndarray)):
        inputs = [inputs]
    if not isinstance(inputs, (list, tuple)) or not inputs:
        raise ValueError('inputs must be a path, a folder, a numpy array or '
                         f'a non-empty list of those, got {inputs!r}')
    sources: List['_Source'] = []
    arrays = 0
    for value in inputs:
        if isinstance(value, np.ndarray):
            sources.append(_ArraySource(value, f'array_{arrays:04d}',
                                        f'array[{arrays}]'))
            arrays += 1
            continue
        if not isinstance(value, (str, os.PathLike)):
            raise TypeError(f'unsupported input {type(value).__name__}; '
                            'pass paths, folders or numpy arrays')
        path = os.fspath(value)
        if osp.isdir(path):
            sources += [_file_source(p) for p in _list_folder(path, exts)]
        elif osp.exists(path):
            sources.append(_file_source(path))
        else:
            raise FileNotFoundError(f'input {path!r} does not exist')
    return InputStream(sources)


def _normalise_extensions(extensions) -> Tuple[str, ...]:
    if extensions is None:
        return IMAGE_EXTENSIONS + VIDEO_EXTENSIONS
    if isinstance(extensions, str):
        extensions = [extensions]
    exts = tuple('.' + e.lower().lstrip('.') for e in extensions)
    if not exts or any(e == '.' for e in exts):
        raise ValueError(f'invalid extension filter {extensions!r}; give '
                         "extensions such as ['jpg', 'png']")
    return exts


def _list_folder(folder: str, exts: Tuple[str, ...]) -> List[str]:
    names = sorted(n for n in os.listdir(folder) if not n.startswith('.')
                   and osp.isfile(osp.join(folder, n)))
    chosen = [n for n in names if osp.splitext(n)[1].lower() in exts]
    if chosen:
        return [osp.join(folder, n) for n in chosen]
    if not names:
        raise ValueError(f'the input folder {folder!r} is empty')
    found = sorted({osp.splitext(n)[1].lower() or '(none)' for n in names})
    raise ValueError(
        f'no file in {folder!r} has one of the extensions '
        f'{", ".join(exts)}; its {len(names)} file(s) have the extensions '
        f'{", ".join(found)}')


def _file_source(path: str) -> '_Source':
    stem, ext = osp.splitext(osp.basename(path))
    if ext.lower() in VIDEO_EXTENSIONS:
        return _VideoSource(path, stem)
    return _FileSource(path, stem)


class _Source:
    name: str
    total: int = 1

    def items(self) -> Iterator[Tuple[str, str, Optional[np.ndarray],
                                      Optional[str], Optional[str]]]:
        """(name, source, image, converted_from, error) of each image."""
        raise NotImplementedError


class _FileSource(_Source):

    def __init__(self, path, name):
        self.path, self.name = path, name

    def items(self):
        yield _decoded(self.name, self.path, lambda: read_image(self.path))


class _ArraySource(_Source):

    def __init__(self, array, name, source):
        self.array, self.name, self.source = array, name, source

    def items(self):
        yield _decoded(self.name, self.source,
                       lambda: to_bgr_uint8(self.array))


def _decoded(name: str, source: str, decode: Callable) -> tuple:
    try:
        image, converted = decode()
        return name, source, image, converted, None
    except UnreadableImage as err:
        return name, source, None, None, str(err)


class _VideoSource(_Source):
    """The frames of a video file, read one at a time (OpenCV)."""

    def __init__(self, path, name):
        self.path, self.name = path, name
        capture = cv2.VideoCapture(path)
        self.total = max(int(capture.get(cv2.CAP_PROP_FRAME_COUNT)), 1) \
            if capture.isOpened() else 1
        capture.release()

    def items(self):
        capture = cv2.VideoCapture(self.path)
        if not capture.isOpened():
            yield self.name, self.path, None, None, \
                'OpenCV cannot open it as a video'
            return
        try:
            frame = 0
            while True:
                ok, image = capture.read()
                if not ok:
                    break
                yield (f'{self.name}_{frame:06d}', f'{self.path}#{frame}',
                       *to_bgr_uint8(image), None)
                frame += 1
            if frame == 0:
                yield self.name, self.path, None, None, \
                    'the video has no readable frame'
        finally:
            capture.release()


class InputStream:
    """The images of a run, read lazily and in order; iterate it as often
    as needed (the ``paper`` protocol reads the first images twice).

    ``len()`` is the number of images expected (a video's frame count is
    OpenCV's estimate).
    """

    def __init__(self, sources: Sequence[_Source]):
        self.sources = list(sources)

    def __len__(self) -> int:
        return sum(s.total for s in self.sources)

    def __iter__(self) -> Iterator[ImageItem]:
        used = set()
        index = 0
        for source in self.sources:
            for name, where, image, converted, error in source.items():
                yield ImageItem(_unique(name, used), where, index, image,
                                converted, error)
                index += 1


def _unique(name: str, used: set) -> str:
    candidate, n = name, 1
    while candidate in used:
        n += 1
        candidate = f'{name}_{n}'
    used.add(candidate)
    return candidate


# -- writing ------------------------------------------------------------
def write_png(path: str, image: np.ndarray, rgb: bool = True) -> None:
    """Write ``image`` (uint8 or uint16; RGB when ``rgb``) atomically."""
    if rgb and image.ndim == 3:
        image = image[..., ::-1]
    ok, data = cv2.imencode('.png', np.ascontiguousarray(image))
    if not ok:
        raise OSError(f'could not encode {path!r} as PNG')
    atomic_write_bytes(data.tobytes(), path)


def write_npy(path: str, array: np.ndarray) -> None:
    buffer = io.BytesIO()
    np.save(buffer, array)
    atomic_write_bytes(buffer.getvalue(), path)


def raw_encoding(task: str, raw_format: str) -> dict:
    """How :func:`write_raw` stores ``task``'s prediction in ``raw_format``
    (recorded in the summary, so the files can be read back): its task
    spec's ``png16`` encoding, class ids for a categorical task, else
    float32 ``.npy``."""
    if raw_format not in RAW_FORMATS:
        raise ValueError(f'unknown raw format {raw_format!r}; valid: '
                         f'{", ".join(RAW_FORMATS)}')
    spec = task_spec(task)
    categorical = spec.label_map.categorical
    if raw_format == 'npy':
        return dict(format='npy', note='float32 (H, W) or (H, W, C); '
                    'class ids as int32' if not categorical else
                    'int32 class ids (H, W)')
    if categorical:
        return dict(format='png16', scale=1.0, offset=0.0,
                    note='class ids, uint16')
    if spec.png16 is not None:
        return dict(format='png16', **spec.png16)
    return dict(format='npy', note=f'no 16-bit PNG encoding for {task!r}; '
                'float32 .npy instead')


def write_raw(path_stem: str, task: str, data: np.ndarray,
              raw_format: str) -> str:
    """Write one ``(C, H, W)`` prediction; returns the file written."""
    enc = raw_encoding(task, raw_format)
    hwc = data.transpose(1, 2, 0)
    if hwc.shape[2] == 1:
        hwc = hwc[..., 0]
    if enc['format'] == 'npy':
        dtype = np.int32 if task_spec(task).label_map.categorical \
            else np.float32
        write_npy(path_stem + '.npy', np.ascontiguousarray(hwc, dtype=dtype))
        return path_stem + '.npy'
    values = np.rint((hwc.astype(np.float64) - enc['offset']) * enc['scale'])
    write_png(path_stem + '.png', np.clip(values, 0, 65535).astype(np.uint16),
              rgb=True)
    return path_stem + '.png'


def read_raw(path: str, encoding: dict) -> np.ndarray:
    """A raw prediction file read back as values (the inverse of
    :func:`write_raw`): ``(H, W)`` or ``(H, W, C)``."""
    if path.endswith('.npy'):
        return np.load(path)
    data = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if data.ndim == 3:
        data = data[..., ::-1]
    return data.astype(np.float64) / encoding['scale'] + encoding['offset']
