"""Keys that say what the colours of a drawn task map mean, laid out in a
strip under the picture: a legend (class colours and names, the RGB of
normals along each axis) or a ramp (a colour bar with its values and
units, an edge probability from 0 to 1).

Every function returns an ``(H, W, 3)`` uint8 RGB image on white.
"""
from typing import Optional, Sequence, Tuple

import cv2
import numpy as np

from s4t_mm.tasks import task_spec
from .task_map_values import shared_range

FONT = cv2.FONT_HERSHEY_SIMPLEX
FONT_SCALE = 0.4
BACKGROUND = 255
#: side of a legend's colour swatch, length and thickness of a ramp (px)
SWATCH = 10
RAMP_SIZE = (128, 10)
#: the narrowest strip of keys, so that a key fits under a small picture
MIN_KEY_WIDTH = 2 * RAMP_SIZE[0]
#: an ``overlay`` map dims the image by half: its ramp is drawn over the
#: grey a mid-grey (128) image becomes
_OVERLAY_BACKDROP = 64.0
_PAD = 4
_LINE = 14


def text_width(text: str) -> int:
    return cv2.getTextSize(text, FONT, FONT_SCALE, 1)[0][0]


def put_text(canvas: np.ndarray, text: str, x: int, y: int,
             max_width: int) -> None:
    """Black text with its baseline at ``y``, cut to ``max_width`` px."""
    while text and text_width(text) > max_width:
        text = text[:-1]
    cv2.putText(canvas, text, (x, y), FONT, FONT_SCALE, (0, 0, 0), 1,
                cv2.LINE_AA)


def legend_key(title: str, colors: np.ndarray, names: Sequence[str],
               max_width: int) -> np.ndarray:
    """``title`` over one swatch of each RGB colour of ``colors`` ``(N, 3)``
    followed by its name, flowing into lines no wider than ``max_width``
    (a longer name is cut)."""
    colors = np.clip(np.rint(np.asarray(colors, dtype=np.float64)), 0, 255)
    entries = [(c.astype(np.uint8), str(n)) for c, n in zip(colors, names)]
    widths = [SWATCH + 3 + text_width(n) + 2 * _PAD for _, n in entries]
    lines, x = [[]], 0
    for entry, w in zip(entries, widths):
        if lines[-1] and x + w > max_width:
            lines.append([])
            x = 0
        lines[-1].append((entry, min(w, max_width)))
        x += w
    width = min(max_width, max(
        [text_width(title) + 2 * _PAD] +
        [sum(w for _, w in line) for line in lines]))
    key = _blank(_LINE * (len(lines) + 1) + _PAD, width)
    put_text(key, title, _PAD, _LINE - 3, width - 2 * _PAD)
    for row, line in enumerate(lines, start=1):
        x = 0
        for (color, name), w in line:
            top = row * _LINE + (_LINE - SWATCH) // 2
            key[top:top + SWATCH, x + _PAD:x + _PAD + SWATCH] = color
            put_text(key, name, x + _PAD + SWATCH + 3, (row + 1) * _LINE - 3,
                     w - 2 * _PAD - SWATCH - 3)
            x += w
    return key


def ramp_key(title: str, colors: np.ndarray,
             value_range: Tuple[float, float]) -> np.ndarray:
    """``title`` over a horizontal ramp of the RGB colours ``colors``
    ``(W, 3)`` (left: ``value_range[0]``, right: ``value_range[1]``),
    labelled with the values at both ends and the middle."""
    low, high = value_range
    ramp_w, ramp_h = len(colors), RAMP_SIZE[1]
    labels = [f'{v:.3g}' for v in (low, (low + high) / 2, high)]
    width = max(ramp_w, text_width(title)) + 2 * _PAD
    key = _blank(3 * _LINE + _PAD, width)
    put_text(key, title, _PAD, _LINE - 3, width - 2 * _PAD)
    top = _LINE + (_LINE - ramp_h) // 2
    key[top:top + ramp_h, _PAD:_PAD + ramp_w] = np.clip(
        np.rint(colors), 0, 255).astype(np.uint8)[None]
    for label, x in zip(labels, (0, (ramp_w - text_width(labels[1])) // 2,
                                 ramp_w - text_width(labels[2]))):
        put_text(key, label, _PAD + max(x, 0), 3 * _LINE - 3, width)
    return key


def task_key(visualizer, task: str, style: str, values: np.ndarray,
             value_range: Optional[Tuple[float, float]] = None,
             max_width: int = MIN_KEY_WIDTH) -> np.ndarray:
    """What the colours of ``task`` mean as ``visualizer`` (a
    :class:`~s4t_mm.visualization.MultiTaskVisualizer`) draws it in
    ``style``:

    - ``palette``: a legend of the classes among ``values`` (the map's
      valid values), named from ``dataset_meta``;
    - ``colormap``: a colour bar over ``value_range`` (default: the
      2nd-98th percentile of ``values``) titled with the units,
      ``dataset_meta['<task>_units']`` else the visualizer's;
    - ``normals``: the colour of the unit normal along each axis;
    - ``overlay``: the tint from probability 0 to 1.
    """
    if style == 'palette':
        ids = np.unique(values[np.isfinite(values)]).astype(np.int64)
        meta = visualizer.dataset_meta or {}
        classes = meta.get(task_spec(task).classes_key or
                           f'{task}_classes') or []
        names = [classes[i] if i < len(classes) else str(i) for i in ids]
        palette = visualizer.palette(task, int(ids.max(initial=0)) + 1)
        return legend_key(f'{task} classes', palette[ids], names, max_width)
    if style == 'normals':
        axes = np.array([sign * axis for axis in np.eye(3)
                         for sign in (1, -1)])
        return legend_key(f'{task}: RGB = (n + 1) / 2', (axes + 1) / 2 * 255,
                          [sign + axis for axis in 'xyz' for sign in '+-'],
                          max_width)
    ramp = np.linspace(0, 1, RAMP_SIZE[0])[:, None]
    if style == 'colormap':
        units = (visualizer.dataset_meta or {}).get(f'{task}_units') or \
            visualizer.units.get(task)
        return ramp_key(f'{task} ({units})' if units else task,
                        visualizer.cmap(ramp[:, 0])[:, :3] * 255,
                        value_range or shared_range([values]))
    return ramp_key(f'{task} probability', (1 - ramp) * _OVERLAY_BACKDROP +
                    ramp * visualizer.overlay_color, (0.0, 1.0))


def with_keys(picture: np.ndarray, keys: Sequence[np.ndarray]
              ) -> np.ndarray:
    """``picture`` over its ``keys``, which flow left to right into lines
    as wide as the picture (or as the widest key); the picture keeps its
    pixels at the top left."""
    if not keys:
        return picture
    h, w = picture.shape[:2]
    width = max([w] + [k.shape[1] for k in keys])
    lines, x = [[]], 0
    for key in keys:
        if lines[-1] and x + key.shape[1] > width:
            lines.append([])
            x = 0
        lines[-1].append(key)
        x += key.shape[1]
    heights = [max(k.shape[0] for k in line) for line in lines]
    canvas = _blank(h + _PAD + sum(heights), width)
    canvas[:h, :w] = picture
    y = h + _PAD
    for line, line_h in zip(lines, heights):
        x = 0
        for key in line:
            canvas[y:y + key.shape[0], x:x + key.shape[1]] = key
            x += key.shape[1]
        y += line_h
    return canvas


def _blank(height: int, width: int) -> np.ndarray:
    return np.full((height, width, 3), BACKGROUND, dtype=np.uint8)
