"""Draw multi-task predictions during validation and testing, and put the
drawings of several runs (source-only, adapted) side by side."""
import copy
import json
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.structures import BaseDataElement, PixelData

from s4t_mm.registry import HOOKS
from s4t_mm.structures import MultiTaskDataSample
from s4t_mm.structures.multi_task_data_sample import GT_PREFIX, PRED_PREFIX
from s4t_mm.structures.task_maps import task_map_spec
from s4t_mm.utils import registered_class
from s4t_mm.visualization import MultiTaskVisualizer

#: dataset_meta keys stored with saved maps (class names and palettes).
_META_SUFFIXES = ('classes', 'palette')


@HOOKS.register_module()
class MultiTaskVisualizationHook(Hook):
    """Draw image, ground truth and prediction of every task.

    The multi-task counterpart of mmseg's ``SegVisualizationHook``. In
    testing it draws every ``interval``-th sample to the vis backends, or
    every sample to ``show_dir/<tag>[/<run name>]/<image id>.png`` when
    ``show_dir`` is given. In validation it draws the first sample of every
    ``interval``-th batch to the backends.

    The image drawn is the one the model saw (``inputs`` of the batch, BGR
    uint8, after the pipeline; corruptions included), not a re-read file.

    Comparing runs: give each run its own ``tag`` and ``save_maps=True``;
    each drawn sample's image and maps are also saved as ``.npz`` and
    :func:`compose_comparisons` later draws one image per sample with every
    run's prediction in its own row.

    Args:
        draw: draw at all (as in mmseg, off by default).
        interval: draw every ``interval``-th test sample / val batch.
        show: also show each drawing in a window.
        wait_time: seconds a shown drawing stays.
        show_dir: folder for the drawings of a test run.
        tag: subfolder of ``show_dir`` and prefix of backend image names.
        run_names: names of the successive test epochs of one runner (the
            target domains a ``TestTimeAdaptLoop`` walks, in order; one
            epoch per ``runner.test()`` of a plain ``TestLoop``); the i-th
            writes into the subfolder ``run_names[i]``.
        save_maps: also save the image and maps of each drawn test sample
            (``.npz`` beside the png), for :func:`compose_comparisons`.
    """

    priority = 'NORMAL'

    def __init__(self,
                 draw: bool = False,
                 interval: int = 50,
                 show: bool = False,
                 wait_time: float = 0.,
                 show_dir: Optional[str] = None,
                 tag: str = 'test',
                 run_names: Optional[Sequence[str]] = None,
                 save_maps: bool = False):
        if interval < 1:
            raise ValueError(f'interval must be >= 1, got {interval}')
        if save_maps and show_dir is None:
            raise ValueError('save_maps=True needs a show_dir to save into')
        self.draw = draw
        self.interval = interval
        self.show = show
        self.wait_time = wait_time
        self.show_dir = show_dir
        self.tag = tag
        self.run_names = None if run_names is None else list(run_names)
        self.save_maps = save_maps
        self._visualizer: Optional[MultiTaskVisualizer] = None
        self._runs = 0
        self._test_index = 0
        self._run_dir = ''

    def visualizer(self, runner) -> MultiTaskVisualizer:
        """What draws: the runner's visualizer when it is a
        :class:`MultiTaskVisualizer`, otherwise one of our own without
        backends, whose drawings :meth:`add_datasample` hands to the
        runner's visualizer."""
        if isinstance(runner.visualizer, MultiTaskVisualizer):
            return runner.visualizer
        if self._visualizer is None:
            print_log(f'the runner visualizer is a '
                      f'{type(runner.visualizer).__name__}; '
                      f'{type(self).__name__} draws with a '
                      'MultiTaskVisualizer and records the drawings with '
                      'the runner visualizer\'s add_image',
                      logger='current')
            self._visualizer = MultiTaskVisualizer(
                name=f'{self.tag}_multi_task_visualizer')
        self._visualizer.dataset_meta = runner.visualizer.dataset_meta
        return self._visualizer

    def add_datasample(self, runner, name: str, image: np.ndarray,
                       sample: BaseDataElement, step: int,
                       out_file: Optional[str] = None) -> None:
        """Draw one sample into ``out_file``, or else into the runner
        visualizer's backends (through its public ``add_image`` when it is
        not a :class:`MultiTaskVisualizer`)."""
        drawer = self.visualizer(runner)
        drawn = drawer.add_datasample(
            name, image, sample, show=self.show, wait_time=self.wait_time,
            out_file=out_file, step=step)
        if drawer is not runner.visualizer and out_file is None:
            runner.visualizer.add_image(name, drawn, step)

    def before_test_epoch(self, runner) -> None:
        if self.run_names is None:
            self._run_dir = ''
        elif self._runs < len(self.run_names):
            self._run_dir = self.run_names[self._runs]
        else:
            raise ValueError(
                f'test epoch {self._runs + 1} of this runner, but run_names '
                f'names only {len(self.run_names)}: {self.run_names}')
        self._runs += 1
        self._test_index = 0

    def after_val_iter(self, runner, batch_idx: int, data_batch: dict,
                       outputs: Sequence[BaseDataElement]) -> None:
        if not self.draw or not self.every_n_inner_iters(
                batch_idx, self.interval):
            return
        self.add_datasample(runner,
                            f'val_{sample_id(outputs[0], batch_idx)}',
                            batch_image(data_batch, 0), outputs[0],
                            step=runner.iter)

    def after_test_iter(self, runner, batch_idx: int, data_batch: dict,
                        outputs: Sequence[BaseDataElement]) -> None:
        if not self.draw:
            return
        for i, output in enumerate(outputs):
            index = self._test_index
            self._test_index += 1
            if self.show_dir is None and index % self.interval:
                continue
            image = batch_image(data_batch, i)
            name = sample_id(output, index)
            out_file = None
            if self.show_dir is not None:
                stem = osp.join(self.show_dir, self.tag, self._run_dir, name)
                out_file = stem + '.png'
                if self.save_maps:
                    save_sample_maps(stem + '.npz', image, output,
                                     runner.visualizer.dataset_meta)
            label = '_'.join(filter(None, (self.tag, self._run_dir, name)))
            self.add_datasample(runner, label, image, output, step=index,
                                out_file=out_file)


def batch_image(data_batch: dict, i: int) -> np.ndarray:
    """The i-th image of a batch as ``(H, W, 3)`` uint8 RGB (inputs are
    BGR ``(3, H, W)`` tensors, OpenMMLab's convention)."""
    img = data_batch['inputs'][i]
    img = img.detach().cpu().numpy() if isinstance(img, torch.Tensor) \
        else np.asarray(img)
    return np.ascontiguousarray(img.transpose(1, 2, 0)[..., ::-1]).astype(
        np.uint8)


def sample_id(sample: BaseDataElement, index: int) -> str:
    """A file-name id, unique within a dataset: the zero-padded
    ``sample_idx`` (dataset order) followed by the image file's stem, or
    either alone, or else the running ``index``. File stems alone repeat
    across folders (Taskonomy's ``point_0_view_0`` in every building)."""
    path = sample.metainfo.get('img_path')
    stem = osp.splitext(osp.basename(str(path)))[0] if path else ''
    idx = sample.metainfo.get('sample_idx')
    if idx is None:
        return stem or str(index)
    prefix = f'{int(idx):06d}'
    return prefix if stem in ('', str(idx)) else f'{prefix}_{stem}'


def save_sample_maps(path: str, image: np.ndarray, sample: BaseDataElement,
                     dataset_meta: Optional[dict]) -> None:
    """Save image, ``gt_*`` / ``pred_*`` maps and the palettes of one sample
    compactly (``.npz``, no pickle): categorical maps as integers, others
    as float16, which is plenty for drawing."""
    arrays = dict(image=image)
    for key in sample.keys():
        field = sample.get(key)
        if not (key.startswith((GT_PREFIX, PRED_PREFIX))
                and isinstance(field, PixelData)):
            continue
        task = key.split('_', 1)[1]
        data = field.data.detach().cpu().numpy() if isinstance(
            field.data, torch.Tensor) else np.asarray(field.data)
        if task_map_spec(task).categorical or np.issubdtype(
                data.dtype, np.integer):
            data = data.astype(np.int16)
        else:
            data = data.astype(np.float16)
        arrays[key] = data
    meta = {k: list(map(list, v)) if k.endswith('palette') else list(v)
            for k, v in (dataset_meta or {}).items()
            if k.endswith(_META_SUFFIXES)}
    arrays['dataset_meta'] = np.array(json.dumps(meta))
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    np.savez_compressed(path, **arrays)


def load_sample_maps(path: str):
    """``(image, MultiTaskDataSample, dataset_meta)`` saved by
    :func:`save_sample_maps`."""
    with np.load(path, allow_pickle=False) as saved:
        sample = MultiTaskDataSample()
        for key in saved.files:
            if key.startswith((GT_PREFIX, PRED_PREFIX)):
                data = torch.from_numpy(saved[key])
                data = data.long() if not data.is_floating_point() \
                    else data.float()
                sample.set_field(PixelData(data=data), key)
        return saved['image'], sample, json.loads(str(saved['dataset_meta']))


def compose_comparisons(show_dir: str, tags: Sequence[str],
                        out_tag: str = 'comparison',
                        visualizer: Optional[MultiTaskVisualizer] = None
                        ) -> List[str]:
    """One image per sample with the predictions of every run in a row.

    Reads the maps that runs tagged ``tags`` saved (``save_maps=True``)
    under ``show_dir/<tag>/`` and writes, for every sample saved by all of
    them, ``show_dir/<out_tag>/<same relative path>.png``: ground truth on
    top, then one row per tag in the given order.

    Returns:
        The written file paths, sorted.
    """
    if not tags:
        raise ValueError('compose_comparisons needs at least one tag')
    first = osp.join(show_dir, tags[0])
    if not osp.isdir(first):
        raise FileNotFoundError(
            f'no drawings of run {tags[0]!r} in {show_dir!r}; run it with '
            f"MultiTaskVisualizationHook(show_dir={show_dir!r}, "
            f'tag={tags[0]!r}, save_maps=True)')
    visualizer = visualizer or MultiTaskVisualizer(
        name='multi_task_comparison')
    written, incomplete = [], 0
    for root, _, files in sorted(os.walk(first)):
        for file in sorted(f for f in files if f.endswith('.npz')):
            rel = osp.relpath(osp.join(root, file), first)
            paths = [osp.join(show_dir, t, rel) for t in tags]
            if not all(osp.isfile(p) for p in paths):
                incomplete += 1
                continue
            loaded = [load_sample_maps(p) for p in paths]
            image, _, visualizer.dataset_meta = loaded[0]
            samples: Dict[str, BaseDataElement] = {
                tag: sample for tag, (_, sample, _) in zip(tags, loaded)}
            out_file = osp.join(show_dir, out_tag,
                                osp.splitext(rel)[0] + '.png')
            visualizer.add_comparison(rel, image, samples, out_file=out_file)
            written.append(out_file)
    if incomplete:
        print_log(f'{incomplete} sample(s) of {tags[0]!r} lack a drawing '
                  f'in another run of {list(tags)}; not composed',
                  logger='current', level=30)
    return sorted(written)


def _is_visualization_hook(entry: dict) -> bool:
    cls = registered_class(HOOKS, entry.get('type'))
    return cls is not None and issubclass(cls, MultiTaskVisualizationHook)


def with_visualization_hook(cfg: Config, show_dir: str, tag: str,
                            run_names: Optional[Sequence[str]] = None,
                            save_maps: bool = True) -> Config:
    """A copy of ``cfg`` whose ``custom_hooks`` draw every test sample into
    ``show_dir/<tag>`` (replacing any MultiTaskVisualizationHook there)."""
    cfg = copy.deepcopy(cfg)
    hooks = [h for h in cfg.get('custom_hooks', [])
             if not _is_visualization_hook(h)]
    hooks.append(dict(type='s4t_mm.MultiTaskVisualizationHook', draw=True,
                      show_dir=show_dir, tag=tag,
                      run_names=None if run_names is None else
                      list(run_names),
                      save_maps=save_maps))
    cfg.custom_hooks = hooks
    return cfg
