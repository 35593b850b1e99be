"""Draw the image, ground truth and predictions of every task side by side."""
from typing import Dict, List, Optional, Sequence, Tuple

import matplotlib
import mmcv
import numpy as np
from mmengine.dist import master_only
from mmengine.structures import BaseDataElement, PixelData
from mmengine.visualization import Visualizer

from s4t_mm.registry import VISUALIZERS
from s4t_mm.structures.multi_task_data_sample import GT_PREFIX, PRED_PREFIX
from s4t_mm.structures.task_maps import task_map_spec
from s4t_mm.tasks import TaskSpecView, task_spec, task_specs
from .map_keys import (MIN_KEY_WIDTH, put_text, task_key, text_width,
                       with_keys)
from .task_map_values import (as_chw, as_rgb_image, shared_range,
                              valid_values)

#: How a task's map is drawn: ``palette`` (class colours blended over the
#: image), ``colormap`` (a scalar map through a colour map, one range shared
#: by the ground truth and every prediction of the task), ``normals``
#: (unit vectors as RGB ``(n + 1) / 2``), ``overlay`` (a probability or
#: binary map tinting the dimmed image).
STYLES = ('palette', 'colormap', 'normals', 'overlay')
#: ``{task: style}`` of the task specs that declare one (a live view).
TASK_STYLES = TaskSpecView('style')
IGNORE_COLOR = (128, 128, 128)
#: Units of scalar maps where ``dataset_meta`` gives none
#: (``'<task>_units'``): the depth decoders of our datasets give metres.
DEFAULT_UNITS = dict(depth='m')
_BACKGROUND = 255
_SPACING = 2
_HEADER = 16


@VISUALIZERS.register_module()
class MultiTaskVisualizer(Visualizer):
    """A grid with one column per task and one row per map kind.

    ``add_datasample`` draws a row of ground truth and a row of predictions
    of one :class:`MultiTaskDataSample` (any data sample whose ``gt_*`` /
    ``pred_*`` fields are :class:`PixelData` works, mmseg's
    ``SegDataSample`` included); ``add_comparison`` draws the ground truth
    once and then one prediction row per labelled sample, e.g. source-only
    and adapted. The first column is the image. Pixels without a label
    (the task's ignore value) are drawn in neutral grey.

    The drawn image (RGB) goes to ``out_file`` when given, else to every
    vis backend (``LocalVisBackend``, ``TensorboardVisBackend``, ...) with
    ``add_image``, as mmseg's ``SegLocalVisualizer`` does.

    Palettes come from ``dataset_meta``: ``palette`` for semseg,
    ``<task>_palette`` for other categorical tasks; without one, fixed
    colours are generated.

    Args:
        name: instance name (mmengine's global visualizer registry).
        image: optional image to start with (RGB).
        vis_backends: vis backend configs.
        save_dir: where the backends write.
        alpha: weight of palette colours over the image.
        overlay_color: RGB colour of ``overlay`` maps (edges, saliency).
        cmap: matplotlib colour map of ``colormap`` tasks (depth).
        task_styles: task -> style, over those of the task specs
            (:data:`TASK_STYLES`); tasks in neither are drawn by their label
            map: categorical -> palette, unit vectors -> normals, one
            channel -> colormap.
        draw_labels: write column and row names around the grid.
        draw_keys: draw under a grid or picture what its colours mean
            (:mod:`~s4t_mm.visualization.map_keys`): the classes present,
            a colour bar with the units (``dataset_meta['<task>_units']``,
            else ``units``), the RGB of normals, the edge probability.
        units: task -> units of its values, over :data:`DEFAULT_UNITS`.
    """

    def __init__(self,
                 name: str = 'visualizer',
                 image: Optional[np.ndarray] = None,
                 vis_backends: Optional[List[dict]] = None,
                 save_dir: Optional[str] = None,
                 alpha: float = 0.8,
                 overlay_color: Sequence[int] = (255, 48, 0),
                 cmap: str = 'magma',
                 task_styles: Optional[Dict[str, str]] = None,
                 draw_labels: bool = True,
                 draw_keys: bool = False,
                 units: Optional[Dict[str, str]] = None,
                 **kwargs):
        super().__init__(name, image, vis_backends, save_dir, **kwargs)
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f'alpha must lie in [0, 1], got {alpha}')
        bad = {t: s for t, s in (task_styles or {}).items() if s not in STYLES}
        if bad:
            raise ValueError(f'unknown task style(s) {bad}; valid styles: '
                             f'{", ".join(STYLES)}')
        self.alpha = alpha
        self.overlay_color = np.asarray(overlay_color, dtype=np.float32)
        self.cmap = matplotlib.colormaps[cmap]
        self.task_styles = dict(task_styles or {})
        self.draw_labels = draw_labels
        self.draw_keys = draw_keys
        self.units = dict(DEFAULT_UNITS, **(units or {}))

    # -- one task map ----------------------------------------------------
    def task_style(self, task: str, channels: int) -> str:
        """The drawing style of ``task``: this visualizer's
        ``task_styles``, else its spec's, else from its label map."""
        if task in self.task_styles:
            return self.task_styles[task]
        style = task_spec(task).style
        if style is not None:
            if style not in STYLES:
                raise ValueError(f'the task spec of {task!r} has the unknown '
                                 f'style {style!r}; valid styles: '
                                 f'{", ".join(STYLES)}')
            return style
        spec = task_map_spec(task)
        if spec.categorical:
            return 'palette'
        if spec.unit_vector:
            return 'normals'
        if channels == 1:
            return 'colormap'
        raise ValueError(
            f'no drawing style for task {task!r} with {channels} channels; '
            f'pass task_styles={{{task!r}: style}} with a style from '
            f'{", ".join(STYLES)}')

    def draw_task_map(self, task: str, data, image: np.ndarray,
                      is_gt: bool = True,
                      value_range: Optional[Tuple[float, float]] = None
                      ) -> np.ndarray:
        """One task map drawn at the image's size.

        Args:
            task: task name (selects style, palette and ignore value).
            data: the ``(C, H, W)`` map (tensor or array); resized (nearest)
                to the image when its size differs.
            image: ``(H, W, 3)`` uint8 RGB image.
            is_gt: ground truth, whose ignore pixels are drawn grey.
            value_range: (low, high) of ``colormap`` tasks; default the
                map's own 2nd-98th percentile.

        Returns:
            ``(H, W, 3)`` uint8 RGB tile.
        """
        data = as_chw(data, image.shape[:2])
        style = self.task_style(task, data.shape[0])
        spec = task_map_spec(task)
        if is_gt:
            ignore = (data == spec.ignore_value).all(axis=0)
        else:
            ignore = np.zeros(data.shape[1:], dtype=bool)
        ignore |= ~np.isfinite(data).all(axis=0)
        image = image.astype(np.float32)
        if style == 'palette':
            ids = np.where(ignore, 0, data[0]).astype(np.int64)
            palette = self.palette(task, int(ids.max(initial=0)) + 1)
            tile = (1 - self.alpha) * image + self.alpha * palette[ids]
        elif style == 'colormap':
            if value_range is None:
                value_range = shared_range([data[0][~ignore]])
            low, high = value_range
            scaled = (np.where(ignore, low, data[0]) - low) / max(
                high - low, 1e-12)
            tile = self.cmap(np.clip(scaled, 0, 1))[..., :3] * 255
        elif style == 'normals':
            tile = np.clip((data[:3].transpose(1, 2, 0) + 1) / 2, 0, 1) * 255
        else:
            prob = np.clip(np.where(ignore, 0, data[0]), 0, 1)[..., None]
            tile = (1 - prob) * 0.5 * image + prob * self.overlay_color
        tile = np.nan_to_num(tile)
        tile[ignore] = IGNORE_COLOR
        return np.clip(np.rint(tile), 0, 255).astype(np.uint8)

    def palette(self, task: str, num_ids: int) -> np.ndarray:
        """``(N, 3)`` RGB colours of the class ids of ``task``, at least
        ``num_ids`` of them: the dataset's, then generated ones."""
        meta = self.dataset_meta or {}
        spec = task_spec(task)
        colors = [tuple(c) for c in
                  meta.get(spec.palette_key or f'{task}_palette') or []]
        classes = meta.get(spec.classes_key or f'{task}_classes') or []
        needed = max(num_ids, len(classes), len(colors))
        if len(colors) < needed:
            tab = matplotlib.colormaps['tab20']
            colors += [tuple(int(v * 255) for v in tab(i % 20)[:3])
                       for i in range(len(colors), needed)]
        return np.asarray(colors, dtype=np.float32)

    def draw_task_picture(self, task: str, data, image: np.ndarray,
                          is_gt: bool = False) -> np.ndarray:
        """One task map over ``image`` (:meth:`draw_task_map`, scalar maps
        over their own 2nd-98th percentile) and, with ``draw_keys``, its
        key under it."""
        data = as_chw(data, image.shape[:2])
        values = valid_values(task, data, is_gt, image.shape[:2])
        style = self.task_style(task, data.shape[0])
        value_range = shared_range([values]) if style == 'colormap' \
            else None
        tile = self.draw_task_map(task, data, image, is_gt=is_gt,
                                  value_range=value_range)
        if not self.draw_keys:
            return tile
        return with_keys(tile, [task_key(
            self, task, style, values, value_range,
            max(tile.shape[1], MIN_KEY_WIDTH))])

    # -- grids -----------------------------------------------------------
    def draw_grid(self, image: np.ndarray,
                  rows: Sequence[Tuple[str, BaseDataElement, bool]],
                  tasks: Optional[Sequence[str]] = None) -> np.ndarray:
        """The grid image: a column for the image and one per task (default:
        every task with a map in some row), one row per ``(label,
        data_sample, is_gt)``; ``colormap`` tasks share one value range down
        their column. Missing maps leave their cell blank."""
        image = as_rgb_image(image)
        if tasks is None:
            tasks = _tasks_of(rows, (self.dataset_meta or {}).get(
                'tasks', ()))
        tiles, keys = [], []
        for task in tasks:
            maps = [(_field(s, task, is_gt), is_gt) for _, s, is_gt in rows]
            column_range = None
            channels = next((m.shape[0] if m.ndim == 3 else 1
                             for m, _ in maps if m is not None), 1)
            style = self.task_style(task, channels)
            values = [valid_values(task, m, g, image.shape[:2])
                      for m, g in maps if m is not None]
            if style == 'colormap':
                column_range = shared_range(values)
            tiles.append([
                None if m is None else self.draw_task_map(
                    task, m, image, is_gt=g, value_range=column_range)
                for m, g in maps])
            if self.draw_keys and values:
                keys.append((task, style, np.concatenate(
                    [v.ravel() for v in values]), column_range))
        grid = [[image] + [column[r] for column in tiles]
                for r in range(len(rows))]
        canvas = self._assemble(grid, ['image'] + list(tasks),
                                [label for label, _, _ in rows],
                                image.shape[:2])
        width = max(canvas.shape[1], MIN_KEY_WIDTH)
        return with_keys(canvas, [task_key(self, *key, max_width=width)
                                  for key in keys])

    def _assemble(self, grid, col_names, row_names, size) -> np.ndarray:
        h, w = size
        header = _HEADER if self.draw_labels else 0
        label_w = 0
        if self.draw_labels:
            label_w = max(text_width(n) for n in row_names) + 2 * _SPACING
        canvas = np.full(
            (header + len(grid) * (h + _SPACING) + _SPACING,
             label_w + len(col_names) * (w + _SPACING) + _SPACING, 3),
            _BACKGROUND, dtype=np.uint8)
        for r, row in enumerate(grid):
            y = header + _SPACING + r * (h + _SPACING)
            for c, tile in enumerate(row):
                x = label_w + _SPACING + c * (w + _SPACING)
                if tile is not None:
                    canvas[y:y + h, x:x + w] = tile
            if self.draw_labels:
                put_text(canvas, row_names[r], _SPACING, y + h // 2 + 4,
                         label_w - _SPACING)
        if self.draw_labels:
            for c, name in enumerate(col_names):
                x = label_w + _SPACING + c * (w + _SPACING)
                put_text(canvas, name, x, header - 4, w)
        return canvas

    @master_only
    def add_datasample(self,
                       name: str,
                       image: np.ndarray,
                       data_sample: Optional[BaseDataElement] = None,
                       draw_gt: bool = True,
                       draw_pred: bool = True,
                       show: bool = False,
                       wait_time: float = 0,
                       out_file: Optional[str] = None,
                       step: int = 0) -> np.ndarray:
        """Draw ground truth and prediction of every task of one sample.

        Args:
            name: image identifier for the backends and the window.
            image: ``(H, W, 3)`` uint8 RGB image.
            data_sample: sample with ``gt_<task>`` / ``pred_<task>`` maps.
            draw_gt, draw_pred: which rows to draw.
            show: display it in a window (matplotlib).
            wait_time: seconds to show it (0: until a key).
            out_file: write the drawing here instead of to the backends.
            step: global step recorded by the backends.

        Returns:
            The drawn ``(H', W', 3)`` uint8 RGB image.
        """
        rows = []
        if data_sample is not None:
            if draw_gt and _task_fields(data_sample, GT_PREFIX):
                rows.append(('ground truth', data_sample, True))
            if draw_pred and _task_fields(data_sample, PRED_PREFIX):
                rows.append(('prediction', data_sample, False))
        drawn = self.draw_grid(image, rows) if rows else \
            as_rgb_image(image)
        self._publish(name, drawn, show, wait_time, out_file, step)
        return drawn

    @master_only
    def add_comparison(self,
                       name: str,
                       image: np.ndarray,
                       samples: Dict[str, BaseDataElement],
                       draw_gt: bool = True,
                       show: bool = False,
                       wait_time: float = 0,
                       out_file: Optional[str] = None,
                       step: int = 0) -> np.ndarray:
        """Predictions of several models on one image, one row each, under
        a row of ground truth (from the first sample that has it).

        Args:
            samples: row label -> data sample, in row order, e.g.
                ``{'source_only': s0, 'adapted': s1}``.
            Others: as in :meth:`add_datasample`.
        """
        if not samples:
            raise ValueError('add_comparison needs at least one sample')
        rows = []
        if draw_gt:
            gt = next((s for s in samples.values()
                       if _task_fields(s, GT_PREFIX)), None)
            if gt is not None:
                rows.append(('ground truth', gt, True))
        rows += [(label, s, False) for label, s in samples.items()]
        drawn = self.draw_grid(image, rows)
        self._publish(name, drawn, show, wait_time, out_file, step)
        return drawn

    def _publish(self, name, drawn, show, wait_time, out_file, step):
        self.set_image(drawn)
        if show:
            self.show(drawn, win_name=name, wait_time=wait_time)
        if out_file is not None:
            mmcv.imwrite(mmcv.rgb2bgr(drawn), out_file)
        else:
            self.add_image(name, drawn, step)


def _field(sample: BaseDataElement, task: str, is_gt: bool):
    field = sample.get((GT_PREFIX if is_gt else PRED_PREFIX) + task)
    return field.data if isinstance(field, PixelData) else None


def _task_fields(sample: BaseDataElement, prefix: str) -> List[str]:
    """Tasks whose ``<prefix><task>`` field is a map."""
    return [k[len(prefix):] for k in sample.keys()
            if k.startswith(prefix) and isinstance(sample.get(k), PixelData)]


def _tasks_of(rows, meta_tasks: Sequence[str]) -> List[str]:
    """Every task with a map in some row, in a fixed order: the dataset's
    task order, then the order tasks are registered in, then by name."""
    tasks = {t for _, sample, is_gt in rows
             for t in _task_fields(sample, GT_PREFIX if is_gt else
                                   PRED_PREFIX)}
    order = list(meta_tasks) + [t for t in task_specs()
                                if t not in meta_tasks]

    def rank(task):
        return (order.index(task) if task in order else len(order), task)

    return sorted(tasks, key=rank)
