"""Run a multi-task model on your own unlabeled images, optionally adapting
it to them first or while predicting; mmseg's ``MMSegInferencer`` shape on
mmengine's ``BaseInferencer``."""
import contextlib
import copy
import os.path as osp
import time
import warnings
from typing import Dict, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmcv.transforms import Compose
from mmengine.config import ConfigDict
from mmengine.dataset import pseudo_collate
from mmengine.infer.infer import BaseInferencer, ModelType
from mmengine.logging import print_log
from mmengine.model import revert_sync_batchnorm
from mmengine.utils import ProgressBar
from torch.utils.data import DataLoader

from s4t_mm.apis.inference_io import (ImageItem, InputStream, add_scale_bar,
                                      collect_inputs, raw_encoding,
                                      write_png, write_raw)
from s4t_mm.engine.checkpoint import load_model_checkpoint
from s4t_mm.apis.inference_setup import (PROTOCOL_DEFAULTS,
                                         config_dataset_meta, image_pipeline)
from s4t_mm.registry import MODELS, TRANSFORMS, VISUALIZERS
from s4t_mm.tta.protocols import protocol_config
from s4t_mm.tta.session import AdaptationSession
from s4t_mm.utils import dump_json_atomic, register_all_modules


class MultiTaskInferencer(BaseInferencer):
    """Predict every task of a multi-task model on images, videos or
    arrays, with optional test-time adaptation.

    Inputs (see :func:`~s4t_mm.apis.inference_io.collect_inputs`): image
    paths, folders, numpy arrays (BGR as ``cv2.imread`` gives them, or
    grayscale) or video files, of any size; each image goes through the
    config's test pipeline (its loading transforms left out) and every
    prediction comes back at the image's own size. The model sees each
    image at the scale it was trained at (:func:`~s4t_mm.apis.
    inference_setup.training_scale`, a
    keep-ratio resize added before packing) where the config fixes one and
    the test pipeline does not resize already, else at the image's own
    size; ``resize`` overrides it, and the summary's ``input_scale`` says
    which. Unreadable files are skipped with a warning and listed in the
    summary.

    With an ``adapter`` the model adapts on the images themselves (only the
    images: the adapter never sees anything else), through an
    :class:`~s4t_mm.tta.session.AdaptationSession`, as ``protocol`` says:

    - ``paper``: reset, adapt ``steps`` steps on the first images (one
      batch of ``batch_size`` images by default), then predict all of them
      with the adapted weights;
    - ``episodic``: each batch from the source state: adapt, predict;
    - ``online``: adapt on each batch, predict it and carry the state to
      the next batch (a video, frame after frame), and into the next call.

    Each call is one target domain for the adapter (its failure counters
    and events start again). With ``compare`` the source-only prediction of
    every image is kept too, for the side-by-side panels.

    Outputs under ``out_dir`` (every file written atomically)::

        vis/<task>/<name>.png   readable picture (palette, colour map with
                                a scale bar, normals as RGB, edge overlay)
        raw/<task>/<name>.png   the prediction, 16-bit PNG (or .npy)
        panels/<name>.png       source-only | adapted, when comparing
        summary.json            images, skipped files, input scale,
                                adaptation steps, losses, guard
                                counters, times

    Args:
        model: config path, :class:`Config` or dict with ``model`` and a
            test pipeline.
        weights: checkpoint path (loaded with the safe loader, checked to
            fit the model).
        device: ``'cpu'``, ``'cuda'``, ...; default the available one.
        adapter: registered adapter config, e.g. ``dict(type='S4TAdapter')``;
            None predicts with the checkpoint's weights.
        protocol: ``dict(type='paper'|'episodic'|'online', steps=...)`` or a
            name. ``paper`` defaults to the first images in order
            (``shuffle=False``).
        seed: of the adaptation's random draws (masks etc.), combined with
            each batch's image indices.
        resize: ``(w, h)`` bound of a keep-ratio resize inserted before
            packing instead of the training scale; predictions are still
            returned at the original size.
        compare: also predict with the source weights (panels); only with
            an adapter.
        show_progress: a progress bar over the images.
    """

    preprocess_kwargs: set = set()
    forward_kwargs: set = {'source_only'}
    visualize_kwargs: set = set()
    postprocess_kwargs: set = {'out_dir', 'raw_format'}

    def __init__(self,
                 model: Union[ModelType, str],
                 weights: Optional[str] = None,
                 device: Optional[str] = None,
                 adapter: Optional[dict] = None,
                 protocol: Union[str, dict] = 'paper',
                 seed: int = 0,
                 resize: Optional[Tuple[int, int]] = None,
                 compare: bool = True,
                 show_progress: bool = True) -> None:
        register_all_modules(init_default_scope=True)
        self.resize = tuple(resize) if resize is not None else None
        super().__init__(model=model, weights=weights, device=device,
                         scope='s4t_mm', show_progress=show_progress)
        if torch.device(next(self.model.parameters()).device).type == 'cpu':
            self.model = revert_sync_batchnorm(self.model)
        self.visualizer.dataset_meta = self.model.dataset_meta
        self.tasks: List[str] = list(self.model.tasks)
        self.session: Optional[AdaptationSession] = None
        self.source_model = None
        if adapter is not None:
            self.source_model = copy.deepcopy(self.model) if compare \
                else None
            self.adapter_cfg = dict(adapter)
            self.protocol_cfg = protocol_config(protocol, PROTOCOL_DEFAULTS)
            self.session = AdaptationSession(self.adapter_cfg,
                                             self.protocol_cfg, seed)
            # predict_batch predicts through the session
            self.session.reuse_preprocessing = True
            self.session.after_load_checkpoint(self._checkpoint)
            self.session.bind(self.model)
            self.model.eval()
        del self._checkpoint

    @property
    def adapter(self):
        return None if self.session is None else self.session.adapter

    # -- set-up (BaseInferencer hooks) ----------------------------------
    def _init_model(self, cfg: ConfigDict, weights: Optional[str],
                    device: str = 'cpu') -> torch.nn.Module:
        if 'model' not in cfg:
            raise ValueError('the config has no model; pass the config the '
                             'checkpoint was trained with')
        model = MODELS.build(cfg.model)
        # kept for the adaptation session (a normalisation policy may read
        # the source checkpoint, e.g. its calibration)
        self._checkpoint = {}
        if weights is not None:
            self._checkpoint = load_model_checkpoint(model, weights)
            meta = self._checkpoint.get('meta') or {}
        else:
            warnings.warn('no checkpoint given: the predictions come from '
                          'a randomly initialised model')
            meta = {}
        model.dataset_meta = dict(meta.get('dataset_meta') or
                                  config_dataset_meta(cfg))
        model.cfg = cfg
        model.to(device)
        model.eval()
        return model

    def _init_pipeline(self, cfg: ConfigDict) -> Compose:
        """The config's test pipeline for decoded images
        (:func:`~s4t_mm.apis.inference_setup.image_pipeline`)."""
        pipeline, self.input_scale = image_pipeline(cfg, self.resize)
        return Compose([TRANSFORMS.build(t) for t in pipeline])

    def _init_collate(self, cfg: ConfigDict):
        # our configs batch with mmengine's default; looking the config's
        # collate_fn up in a scope without a FUNCTIONS registry only warns
        return pseudo_collate

    def _init_visualizer(self, cfg: ConfigDict):
        name = f'multi_task_inferencer_{id(self)}_{time.time_ns()}'
        return VISUALIZERS.build(dict(type='MultiTaskVisualizer', name=name))

    # -- the run ----------------------------------------------------------
    def __call__(self,
                 inputs,
                 batch_size: int = 1,
                 out_dir: str = '',
                 raw_format: str = 'png',
                 extensions: Optional[Sequence[str]] = None,
                 return_predictions: bool = True,
                 return_vis: bool = False,
                 return_datasamples: bool = False) -> dict:
        """Predict (and adapt on) ``inputs``.

        Args:
            inputs: path, folder, video, numpy array or a list of those.
            batch_size: images per forward pass and per adaptation batch.
            out_dir: where pictures, raw maps, panels and ``summary.json``
                go; '' writes nothing.
            raw_format: ``'png'`` (16-bit) or ``'npy'``.
            extensions: file extensions taken from folders.
            return_predictions: keep every prediction in the returned dict
                (turn off for long videos).
            return_vis: also return the pictures.
            return_datasamples: predictions as data samples instead of
                arrays.

        Returns:
            ``dict(predictions=[{task: array}], visualization=[{task:
            picture}], summary={...})``; arrays are ``(H, W)`` (class ids,
            depth, edge probability) or ``(H, W, 3)`` (normals).
        """
        if batch_size < 1:
            raise ValueError(f'batch_size must be >= 1, got {batch_size}')
        raw_encodings = {t: raw_encoding(t, raw_format) for t in self.tasks}
        stream = collect_inputs(inputs, extensions)
        run = _Run(self.adapter)
        self._skipped: List[dict] = []
        start = time.perf_counter()
        with run.adapting():
            self.begin_run(stream, batch_size)
        progress = ProgressBar(len(stream)) if self.show_progress else None
        predictions, visualization, records = [], [], []
        for batch_idx, (items, data) in enumerate(
                self.preprocess(stream, batch_size)):
            with run.predicting():
                source_preds = self.forward(copy.deepcopy(data),
                                            source_only=True) \
                    if self.source_model is not None else None
            with run.adapting():
                self.adapt_batch(batch_idx, data)
            with run.predicting():
                preds = self.predict_batch(batch_idx, data)
            run.record_losses(f'batch {batch_idx}')
            with run.writing():
                vis = self.visualize(items, preds, source_preds)
                records += self.postprocess(items, preds, vis, source_preds,
                                            out_dir, raw_format)
            if return_predictions:
                predictions += preds if return_datasamples else \
                    [_prediction_arrays(p, self.tasks) for p in preds]
            if return_vis:
                visualization += vis
            if progress is not None:
                for _ in items:
                    progress.update()
        if not records:
            raise ValueError(
                'no input image could be read; skipped: ' + '; '.join(
                    f'{s["source"]} ({s["reason"]})' for s in self._skipped))
        summary = self.summary(records, run, time.perf_counter() - start,
                               raw_encodings, batch_size)
        if out_dir:
            dump_json_atomic(summary, osp.join(out_dir, 'summary.json'))
        return dict(predictions=predictions, visualization=visualization,
                    summary=summary)

    def preprocess(self, inputs: InputStream, batch_size: int = 1
                   ) -> Iterator[Tuple[List[ImageItem], dict]]:
        """Batches of ``(items, data)``: the readable images and their
        collated pipeline output; unreadable ones are reported and
        skipped."""
        chunk: List[ImageItem] = []
        for item in inputs:
            if item.error is not None:
                self._skip(item)
                continue
            chunk.append(item)
            if len(chunk) == batch_size:
                yield chunk, self.collate_fn([self.pipeline_item(i)
                                              for i in chunk])
                chunk = []
        if chunk:
            yield chunk, self.collate_fn([self.pipeline_item(i)
                                          for i in chunk])

    def pipeline_item(self, item: ImageItem) -> dict:
        shape = item.image.shape[:2]
        return self.pipeline(dict(img=item.image, img_path=item.source,
                                  ori_shape=shape, img_shape=shape,
                                  sample_idx=item.index))

    @torch.no_grad()
    def forward(self, data: dict, source_only: bool = False) -> list:
        """Predicted data samples (``pred_<task>`` at the image size)."""
        model = self.source_model if source_only else self.model
        return model.test_step(data)

    @torch.no_grad()
    def predict_batch(self, batch_idx: int, data: dict) -> list:
        """The (adapted) model's predictions of a batch, through the
        session when adapting: it reuses the batch's preprocessing, and
        non-finite predictions make the adapter restore its last good
        state and the batch is predicted again with it."""
        if self.session is None:
            return self.forward(data)
        preds = self.session.predict(self.model, batch_idx, data)
        if self.session.after_predict(batch_idx, preds):
            preds = self.session.predict(self.model, batch_idx, data)
        return preds

    # -- adaptation ---------------------------------------------------------
    def begin_run(self, stream: InputStream, batch_size: int) -> None:
        """Start a target domain: the protocol's ``before_domain`` (the
        ``paper`` protocol adapts on the first images here)."""
        if self.session is None:
            return
        first = self._first_samples(stream, batch_size)
        if first is not None and not first:
            return  # nothing readable: the run ends listing what it skipped
        loader = DataLoader(first, batch_size=batch_size,
                            collate_fn=self.collate_fn) if first else None
        self.session.begin_domain(loader)

    def _first_samples(self, stream: InputStream, batch_size: int
                       ) -> Optional[List[dict]]:
        """Pipeline outputs of the images the protocol adapts on before
        predicting (the ``paper`` protocol's first batches); None when it
        adapts on none there."""
        protocol = self.session.protocol
        wanted = getattr(protocol, 'num_batches', 0) * (
            getattr(protocol, 'batch_size', None) or batch_size)
        if not wanted:
            return None
        samples = []
        for item in stream:
            if len(samples) == wanted:
                break
            if item.error is None:
                samples.append(self.pipeline_item(item))
        return samples

    def adapt_batch(self, batch_idx: int, data: dict) -> None:
        if self.session is not None:
            self.session.before_batch(batch_idx, data)

    # -- outputs --------------------------------------------------------
    def visualize(self, items: List[ImageItem], preds: list,
                  source_preds: Optional[list] = None) -> List[dict]:
        """Per image: ``{task: RGB picture}`` and, when comparing, the
        ``'panel'`` (image | tasks, rows source-only and adapted)."""
        drawn = []
        for i, (item, pred) in enumerate(zip(items, preds)):
            image = np.ascontiguousarray(item.image[..., ::-1])
            pictures = {task: self.draw_task(task, pred.pred(task), image)
                        for task in self.tasks}
            if source_preds is not None:
                pictures['panel'] = self.visualizer.draw_grid(
                    image, [('source-only', source_preds[i], False),
                            ('adapted', pred, False)], tasks=self.tasks)
            drawn.append(pictures)
        return drawn

    def draw_task(self, task: str, data: torch.Tensor,
                  image: np.ndarray) -> np.ndarray:
        """One task's picture; scalar maps get a scale bar."""
        from s4t_mm.visualization import shared_range
        array = data.detach().cpu().float().numpy()
        style = self.visualizer.task_style(task, array.shape[0])
        value_range = shared_range([array[0]]) if style == 'colormap' \
            else None
        tile = self.visualizer.draw_task_map(task, array, image, is_gt=False,
                                             value_range=value_range)
        if value_range is not None:
            tile = add_scale_bar(tile, value_range, self.visualizer.cmap.name)
        return tile

    def postprocess(self, items: List[ImageItem], preds: list,
                    visualization: List[dict],
                    source_preds: Optional[list] = None,
                    out_dir: str = '', raw_format: str = 'png'
                    ) -> List[dict]:
        """Write each image's outputs (when ``out_dir``); its summary
        record."""
        records = []
        for item, pred, pictures in zip(items, preds, visualization):
            record = dict(name=item.name, source=item.source,
                          index=item.index,
                          size=list(item.image.shape[:2]),
                          input_size=list(pred.metainfo['img_shape'][:2]),
                          converted_from=item.converted_from, outputs={})
            if out_dir:
                for task in self.tasks:
                    picture = osp.join('vis', task, item.name + '.png')
                    write_png(osp.join(out_dir, picture), pictures[task])
                    raw = write_raw(osp.join(out_dir, 'raw', task, item.name),
                                    task, pred.pred(task).cpu().numpy(),
                                    raw_format)
                    record['outputs'][task] = dict(
                        picture=picture, raw=osp.relpath(raw, out_dir))
                if 'panel' in pictures:
                    record['panel'] = osp.join('panels', item.name + '.png')
                    write_png(osp.join(out_dir, record['panel']),
                              pictures['panel'])
            records.append(record)
        return records

    def summary(self, records: List[dict], run: '_Run', total_s: float,
                raw_encodings: Dict[str, dict], batch_size: int) -> dict:
        """What the run did, for ``summary.json``."""
        adapting = self.session is not None
        report = self.session.report() if adapting else None
        steps = report.steps if adapting else 0
        num = len(records)
        summary = dict(
            images=records, num_images=num, skipped=self._skipped,
            num_skipped=len(self._skipped), tasks=self.tasks,
            batch_size=batch_size, input_scale=self.input_scale,
            raw_encoding=raw_encodings,
            adapter=self.adapter_cfg if adapting else None,
            protocol=self.protocol_cfg if adapting else None,
            time=dict(total_s=total_s, adapt_s=run.adapt_s,
                      predict_s=run.predict_s, write_s=run.write_s,
                      adapt_s_per_image=run.adapt_s / num,
                      adapt_s_per_step=run.adapt_s / steps if steps
                      else None))
        if adapting:
            summary.update(steps=steps, guard=report.stats,
                           events=report.events, losses=run.losses)
        return summary

    def _skip(self, item: ImageItem) -> None:
        print_log(f'skipping {item.source}: {item.error}', logger='current',
                  level=30)
        self._skipped.append(dict(source=item.source, reason=item.error))


class _Run:
    """Times and adaptation records of one call."""

    def __init__(self, adapter):
        self.adapter = adapter
        self.adapt_s = self.predict_s = self.write_s = 0.0
        self.losses: List[dict] = []
        self._steps_seen = adapter.stats['steps'] if adapter else 0

    @contextlib.contextmanager
    def _timer(self, attr):
        start = time.perf_counter()
        try:
            yield
        finally:
            setattr(self, attr,
                    getattr(self, attr) + time.perf_counter() - start)

    def adapting(self):
        return self._timer('adapt_s')

    def predicting(self):
        return self._timer('predict_s')

    def writing(self):
        return self._timer('write_s')

    def record_losses(self, where: str) -> None:
        """The adapter's last losses, when it stepped since last asked."""
        if self.adapter is None:
            return
        steps = self.adapter.stats['steps']
        if steps > self._steps_seen:
            self.losses.append(dict(after=where,
                                    steps=steps - self._steps_seen,
                                    losses=dict(self.adapter.last_losses)))
            self._steps_seen = steps


def _prediction_arrays(sample, tasks: Sequence[str]) -> Dict[str, np.ndarray]:
    """``{task: (H, W) or (H, W, C) array}`` of a predicted sample."""
    arrays = {}
    for task in tasks:
        data = sample.pred(task).cpu().numpy()
        arrays[task] = data[0] if data.shape[0] == 1 else \
            data.transpose(1, 2, 0)
    return arrays
