"""Run a multi-task model on your own unlabeled images, optionally adapting
it to them first or while predicting: mmseg's ``MMSegInferencer`` shape on
mmengine's ``BaseInferencer``, adapting through the
:class:`~s4t_mm.tta.session.AdaptationSession` the test loop uses."""
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

from s4t_mm.fileio import load_model_checkpoint
from s4t_mm.registry import INFERENCERS, MODELS, TRANSFORMS, VISUALIZERS
from s4t_mm.tta.protocols import protocol_config
from s4t_mm.tta.session import AdaptationSession
from s4t_mm.utils import dump_json_atomic, register_all_modules
from s4t_mm.visualization import publish_image
from .inference_io import (ImageItem, InputStream, collect_inputs,
                           raw_encoding, write_raw)
from .inference_run import (ImagePrediction, InferenceRun, PipelinedImages,
                            picture_file, prediction_arrays)
from .inference_setup import (PROTOCOL_DEFAULTS, config_dataset_meta,
                              image_pipeline)


@INFERENCERS.register_module()
class MultiTaskInferencer(BaseInferencer):
    """Predict every task of a multi-task model on images, videos or
    arrays, with optional test-time adaptation (``docs/inference.md``).

    Inputs (:func:`~s4t_mm.apis.inference_io.collect_inputs`): image paths,
    folders, numpy arrays (BGR, or grayscale) or video files, of any size.
    Each image goes through :func:`~s4t_mm.apis.inference_setup.
    image_pipeline` (the test pipeline, at the training scale unless told
    otherwise; the summary's ``input_scale`` says which) and every
    prediction comes back at the image's own size. Unreadable files are
    skipped with a warning and listed in the summary.

    With an ``adapter`` the model adapts on the images only, through an
    :class:`~s4t_mm.tta.session.AdaptationSession`, as ``protocol`` says:
    ``paper`` adapts ``steps`` steps on the first images (one batch) and
    predicts all of them with those weights; ``episodic`` adapts on each
    batch from the source state; ``online`` carries the adapted state from
    batch to batch (a video) and into the next call. Each call is one
    target domain (the adapter's counters start again); non-finite
    predictions make the adapter restore its last good state for the
    batches that follow, as in the test loop. With ``compare`` the
    source-only predictions are kept too, for side-by-side panels.

    Each batch is one pass of ``BaseInferencer.__call__`` (preprocess,
    forward, visualize, postprocess), so memory stays flat on long videos.
    Under ``out_dir``, written atomically: ``vis/<task>/<name>.png`` (the
    map over the image, its key below), ``raw/<task>/<name>.png`` (16-bit
    PNG, or ``.npy``), ``panels/<name>.png`` (source-only | adapted) and
    ``summary.json`` (images, skipped files, steps, losses, guard counters,
    times).

    Args:
        model: config path, :class:`Config` or dict with ``model`` and a
            test pipeline.
        weights: checkpoint path (loaded with the safe loader, checked to
            fit the model).
        device: ``'cpu'``, ``'cuda'``, ...; default the available one.
        adapter: registered adapter config, e.g. ``dict(type='S4TAdapter')``;
            None predicts with the checkpoint's weights.
        protocol: ``dict(type='paper'|'episodic'|'online', steps=...)`` or a
            name. ``paper`` takes the first images in input order.
        seed: of the adaptation's random draws (masks etc.), combined with
            each batch's image indices.
        resize: ``(w, h)`` bound of a keep-ratio resize inserted before
            packing instead of the training scale; predictions are still
            returned at the original size.
        compare: also predict with the source weights (panels); only with
            an adapter.
        show_progress: a progress bar over the images of a call.
    """

    preprocess_kwargs: set = set()
    forward_kwargs: set = set()
    visualize_kwargs: set = {'return_vis', 'img_out_dir'}
    postprocess_kwargs: set = {'pred_out_dir', 'raw_format',
                               'return_predictions'}

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
        self.adapter_cfg = self.protocol_cfg = self.session = None
        if adapter is not None:
            self.adapter_cfg = dict(adapter)
            self.protocol_cfg = protocol_config(protocol, PROTOCOL_DEFAULTS)
            if self.protocol_cfg.get('shuffle'):
                raise ValueError(
                    'protocol shuffle=True: the inferencer reads the images '
                    'as a stream and adapts on them in input order; pass '
                    'shuffle=False')
            # built first: it receives the checkpoint when it loads
            self.session = AdaptationSession(self.adapter_cfg,
                                             self.protocol_cfg, seed)
            # forward() predicts through the session
            self.session.reuse_preprocessing = True
        # one bar over a call (mmengine's would count each batch's call)
        super().__init__(model=model, weights=weights, device=device,
                         scope='s4t_mm', show_progress=False)
        self.show_progress = show_progress
        if torch.device(next(self.model.parameters()).device).type == 'cpu':
            self.model = revert_sync_batchnorm(self.model)
        self.visualizer.dataset_meta = self.model.dataset_meta
        self.tasks: List[str] = list(self.model.tasks)
        self.source_model = None
        if self.session is not None:
            if compare:
                self.source_model = copy.deepcopy(self.model)
            self.session.bind(self.model)
            self.model.eval()
        self._run = InferenceRun()

    @property
    def adapter(self):
        return None if self.session is None else self.session.adapter

    # -- set-up (BaseInferencer) ------------------------------------------
    def _init_model(self, cfg: ConfigDict, weights: Optional[str],
                    device: str = 'cpu') -> torch.nn.Module:
        """The model with the checkpoint's weights (s4t_mm's one checkpoint
        path), its ``dataset_meta``; the session, when adapting, receives
        the checkpoint (a normalisation policy may read its calibration)."""
        if 'model' not in cfg:
            raise ValueError('the config has no model; pass the config the '
                             'checkpoint was trained with')
        model = MODELS.build(cfg.model)
        meta = {}
        if weights is not None:
            checkpoint = load_model_checkpoint(model, weights)
            meta = checkpoint.get('meta') or {}
            if self.session is not None:
                self.session.after_load_checkpoint(checkpoint)
        else:
            warnings.warn('no checkpoint given: the predictions come from '
                          'a randomly initialised model')
        model.dataset_meta = dict(meta.get('dataset_meta') or
                                  config_dataset_meta(cfg))
        model.cfg = cfg
        model.to(device)
        model.eval()
        return model

    def _init_pipeline(self, cfg: ConfigDict) -> Compose:
        pipeline, self.input_scale = image_pipeline(cfg, self.resize)
        return Compose([TRANSFORMS.build(t) for t in pipeline])

    def _init_collate(self, cfg: ConfigDict):
        # our configs batch with mmengine's default; looking the config's
        # collate_fn up in a scope without a FUNCTIONS registry only warns
        return pseudo_collate

    def _init_visualizer(self, cfg: ConfigDict):
        name = f'multi_task_inferencer_{id(self)}_{time.time_ns()}'
        return VISUALIZERS.build(dict(type='MultiTaskVisualizer', name=name,
                                      draw_keys=True))

    # -- the run ---------------------------------------------------------
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
        encodings = {t: raw_encoding(t, raw_format) for t in self.tasks}
        stream = collect_inputs(inputs, extensions)
        start = time.perf_counter()
        self._run = run = InferenceRun()
        with run.timed('adapt_s'):
            self.begin_domain(stream, batch_size)
        progress = ProgressBar(len(stream)) if self.show_progress else None
        results = dict(predictions=[], visualization=[], images=[])
        for batch in self._readable_batches(stream, batch_size):
            done = super().__call__(
                batch, return_datasamples=return_datasamples,
                batch_size=batch_size, return_vis=return_vis,
                img_out_dir=out_dir, pred_out_dir=out_dir,
                raw_format=raw_format, return_predictions=return_predictions)
            for key, values in results.items():
                values += done[key]
            if progress is not None:
                for _ in batch:
                    progress.update()
        if not results['images']:
            raise ValueError(
                'no input image could be read; skipped: ' + '; '.join(
                    f'{s["source"]} ({s["reason"]})' for s in run.skipped))
        summary = self.summary(results.pop('images'), run,
                               time.perf_counter() - start, encodings,
                               batch_size)
        if out_dir:
            dump_json_atomic(summary, osp.join(out_dir, 'summary.json'))
        return dict(results, summary=summary)

    def begin_domain(self, stream: InputStream, batch_size: int) -> None:
        """Start the call's target domain with the session: its protocol
        may draw from the images (the ``paper`` protocol adapts on the
        first ones here)."""
        if self.session is not None:
            self.session.begin_domain(DataLoader(
                PipelinedImages(stream, self._pipeline_input),
                batch_size=batch_size, collate_fn=self.collate_fn))

    def _readable_batches(self, stream: InputStream, batch_size: int
                          ) -> Iterator[List[ImageItem]]:
        """The readable images in batches; the others are reported and
        recorded as skipped."""
        batch: List[ImageItem] = []
        for item in stream:
            if item.error is not None:
                print_log(f'skipping {item.source}: {item.error}',
                          logger='current', level=30)
                self._run.skipped.append(dict(source=item.source,
                                              reason=item.error))
                continue
            batch.append(item)
            if len(batch) == batch_size:
                yield batch
                batch = []
        if batch:
            yield batch

    def _pipeline_input(self, item: ImageItem) -> dict:
        shape = item.image.shape[:2]
        return self.pipeline(dict(img=item.image, img_path=item.source,
                                  ori_shape=shape, img_shape=shape,
                                  sample_idx=item.index))

    # -- the four steps of BaseInferencer.__call__ -----------------------
    def preprocess(self, inputs: List[ImageItem], batch_size: int = 1
                   ) -> Iterator[Tuple[List[ImageItem], dict]]:
        """Batches of ``(images, collated pipeline outputs)``."""
        for chunk in self._get_chunk_data(inputs, batch_size):
            yield chunk, self.collate_fn([self._pipeline_input(i)
                                          for i in chunk])

    @torch.no_grad()
    def forward(self, inputs: Tuple[List[ImageItem], dict]
                ) -> List[ImagePrediction]:
        """Predict a batch (and source-only, when comparing); when
        adapting, through the session as the test loop does: the protocol
        adapts or resets, the batch is predicted, and ``after_predict``
        checks the predictions."""
        items, data = inputs
        run = self._run
        batch_idx, run.batches = run.batches, run.batches + 1
        sources = [None] * len(items)
        if self.source_model is not None:
            with run.timed('predict_s'):
                sources = self.source_model.test_step(copy.deepcopy(data))
        if self.session is None:
            with run.timed('predict_s'):
                preds = self.model.test_step(data)
        else:
            with run.timed('adapt_s'):
                self.session.before_batch(batch_idx, data)
            with run.timed('predict_s'):
                preds = self.session.predict(self.model, batch_idx, data)
                self.session.after_predict(batch_idx, preds)
            run.record_losses(self.session, f'batch {batch_idx}')
        return [ImagePrediction(*p) for p in zip(items, preds, sources)]

    def visualize(self, inputs: list, preds: List[ImagePrediction],
                  return_vis: bool = False, img_out_dir: str = ''
                  ) -> Optional[List[Dict[str, np.ndarray]]]:
        """Per image ``{task: picture}`` (the map over the image, its key
        below) and, when comparing, ``'panel'`` (image | tasks, rows
        source-only and adapted, keys below); written under
        ``img_out_dir`` and sent to the visualizer's backends."""
        if not (return_vis or img_out_dir):
            return None
        drawn = []
        with self._run.timed('write_s'):
            for pred in preds:
                image = np.ascontiguousarray(pred.item.image[..., ::-1])
                pictures = {task: self.visualizer.draw_task_picture(
                    task, pred.sample.pred(task), image)
                    for task in self.tasks}
                if pred.source is not None:
                    pictures['panel'] = self.visualizer.draw_grid(
                        image, [('source-only', pred.source, False),
                                ('adapted', pred.sample, False)],
                        tasks=self.tasks)
                for key, picture in pictures.items():
                    path = picture_file(key, pred.item.name)
                    publish_image(picture, path[:-len('.png')],
                                  self.visualizer, osp.join(
                                      img_out_dir, path)
                                  if img_out_dir else None)
                drawn.append(pictures)
        return drawn

    def postprocess(self, preds: List[ImagePrediction],
                    visualization: Optional[List[dict]],
                    return_datasamples: bool = False,
                    pred_out_dir: str = '', raw_format: str = 'png',
                    return_predictions: bool = True) -> dict:
        """The batch's predictions (arrays or samples), pictures and
        summary records; raw predictions written under ``pred_out_dir``."""
        records = []
        with self._run.timed('write_s'):
            for pred in preds:
                records.append(self._record(pred, pred_out_dir, raw_format))
        predictions = [] if not return_predictions else [
            p.sample if return_datasamples else
            prediction_arrays(p.sample, self.tasks) for p in preds]
        return dict(predictions=predictions,
                    visualization=visualization or [], images=records)

    def _record(self, pred: ImagePrediction, out_dir: str,
                raw_format: str) -> dict:
        """One image's summary record, its raw predictions written."""
        item = pred.item
        record = dict(name=item.name, source=item.source, index=item.index,
                      size=list(item.image.shape[:2]),
                      input_size=list(pred.sample.metainfo['img_shape'][:2]),
                      converted_from=item.converted_from, outputs={})
        if out_dir:
            for task in self.tasks:
                raw = write_raw(osp.join(out_dir, 'raw', task, item.name),
                                task, pred.sample.pred(task).cpu().numpy(),
                                raw_format)
                record['outputs'][task] = dict(
                    picture=picture_file(task, item.name),
                    raw=osp.relpath(raw, out_dir))
            if pred.source is not None:
                record['panel'] = picture_file('panel', item.name)
        return record

    def summary(self, records: List[dict], run: 'InferenceRun',
                total_s: float, raw_encodings: Dict[str, dict],
                batch_size: int) -> dict:
        """What the call did, for ``summary.json``."""
        report = self.session.report() if self.session else None
        steps = report.steps if report else 0
        num = len(records)
        summary = dict(
            images=records, num_images=num, skipped=run.skipped,
            num_skipped=len(run.skipped), tasks=self.tasks,
            batch_size=batch_size, input_scale=self.input_scale,
            raw_encoding=raw_encodings, adapter=self.adapter_cfg,
            protocol=self.protocol_cfg,
            time=dict(total_s=total_s, **run.times,
                      adapt_s_per_image=run.times['adapt_s'] / num,
                      adapt_s_per_step=run.times['adapt_s'] / steps
                      if steps else None))
        if report:
            summary.update(steps=steps, guard=report.stats,
                           events=report.events, losses=run.losses)
        return summary
