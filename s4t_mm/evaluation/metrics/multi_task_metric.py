"""Dataset-level metrics of every dense task in one evaluator."""
import logging
from typing import Dict, List, Optional, Sequence, Union

import torch
from mmengine.evaluator import BaseMetric
from mmengine.fileio import load
from mmengine.logging import print_log
from mmengine.structures import BaseDataElement

from s4t_mm.registry import METRICS, TASK_EVALUATORS
from s4t_mm.structures.multi_task_data_sample import GT_PREFIX, PRED_PREFIX
from ..functional import delta_m, fit_scale_shift, metric_directions
from ..task_evaluators import (ALIGN_SCOPES, CategoricalEvaluator,
                               DepthEvaluator,
                               EdgeEvaluator, Fit, NormalsEvaluator,
                               SaliencyEvaluator, TaskEvaluator, Thresholds,
                               check_choice)


@METRICS.register_module()
class MultiTaskMetric(BaseMetric):
    """Metrics of every task with a registered evaluator
    (:data:`~s4t_mm.registry.TASK_EVALUATORS`: semseg, human_parts, depth,
    normals, edge, saliency and any task registered since).

    Each processed sample adds to ``self.results`` only small per-task
    statistics (a confusion matrix, error sums, per-threshold counts, a
    sparse angle histogram), never a map, so results gather cheaply across
    ranks; :meth:`compute_metrics` pools them over the dataset. Output keys
    are ``'<task>/<metric>'`` (see
    :func:`s4t_mm.evaluation.functional.metric_directions`), plus
    ``'delta_m'`` when a baseline is given. IoU, accuracies, shares within
    an angle and F-measures are percentages (0..100).

    Args:
        tasks: tasks to evaluate; None evaluates every task with both a
            ``gt_`` and a ``pred_`` field in a sample and a registered
            evaluator (one without is skipped with a warning). A sample
            without the gt of a task is skipped for that task.
        num_classes: classes per categorical task, e.g.
            ``dict(semseg=40, human_parts=7)``; semseg falls back to
            ``len(dataset_meta['classes'])``.
        ignore_index: label value of unlabelled pixels (all channels of it
            for normals).
        depth_align: None, or ``'scale_shift'`` to fit each predicted depth
            map to its gt by least squares before measuring (keys then end
            in ``_aligned``). The S4T reference evaluation aligns depth.
        edge_align: the same for the edge L1 error; the S4T reference's
            edge error is also measured after this alignment.
        alignment: what one fit of ``depth_align`` / ``edge_align`` covers:
            ``'per_image'`` (default) or ``'per_batch'``, one fit over all
            images of a ``process()`` call, i.e. of one test-loader batch,
            as the S4T reference fits its evaluation batches of 8 (keys then
            end in ``_batch_aligned``). Batches follow the loader, so
            reproduce reference numbers with its batch size, unshuffled, on
            one process.
        edge_pred: what the edge L1 error scores: ``'probability'`` (the
            head's output; the reference's 255 * sigmoid for a NYUD-v2
            target once a fit absorbs the 255) or ``'logit'`` (the raw
            output recovered from it, the reference's choice for a
            Taskonomy target). F-measures always use probabilities.
        absent_class_iou: None (mmseg's convention: a class absent from both
            prediction and gt over the whole set is left out of mIoU) or
            the IoU, as a fraction, such a class gets and counts with in the
            mean (0 in the S4T reference).
        edge_odsf: also compute BSDS ODS F for edges. The BSDS matcher
            costs about 20 ms per threshold for a 128x128 image on one CPU
            core (0.4 s with 19 thresholds), hence off by default.
        edge_thresholds: number of evenly spaced thresholds (k / (n + 1)) or
            the thresholds themselves, for odsF.
        edge_max_dist: odsF match tolerance as a fraction of the image
            diagonal (BSDS: 0.0075).
        edge_thin: thin binarised edge predictions before matching, as BSDS.
        edge_tolerance_f: also compute ``edge/odsF_tol``, an ODS F-measure
            whose matching allows ``edge_tolerance_px`` pixels of offset
            (no one-to-one matching, no thinning; ~1 ms per 128x128 image).
            Unlike ``edge/l1`` it cannot be improved by predicting no edges,
            so delta_m prefers it where it is measured.
        edge_tolerance_px: its tolerance in pixels.
        saliency_thresholds: thresholds for saliency maxF, as above.
        saliency_beta2: beta^2 of the saliency F-measure.
        normals_bin_deg: histogram bin width (degrees) for the median angle.
        baseline: metrics of the reference model (source-only), as a dict or
            a path to a JSON/YAML file holding that dict, flat or under a
            top-level ``'metrics'`` key. Enables ``'delta_m'``.
        delta_m_keys: metric keys for delta_m; default one per task
            (:func:`~s4t_mm.evaluation.functional.delta_m_candidates`).
    """

    def __init__(self,
                 tasks: Optional[Sequence[str]] = None,
                 num_classes: Optional[Dict[str, int]] = None,
                 ignore_index: int = 255,
                 depth_align: Optional[str] = None,
                 edge_align: Optional[str] = None,
                 alignment: str = 'per_image',
                 edge_pred: str = 'probability',
                 absent_class_iou: Optional[float] = None,
                 edge_odsf: bool = False,
                 edge_thresholds: Thresholds = 19,
                 edge_max_dist: float = 0.0075,
                 edge_thin: bool = True,
                 edge_tolerance_f: bool = False,
                 edge_tolerance_px: int = 1,
                 saliency_thresholds: Thresholds = 99,
                 saliency_beta2: float = 0.3,
                 normals_bin_deg: float = 0.01,
                 baseline: Union[None, str, Dict[str, float]] = None,
                 delta_m_keys: Optional[Sequence[str]] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None,
                 collect_dir: Optional[str] = None) -> None:
        super().__init__(
            collect_device=collect_device,
            prefix=prefix,
            collect_dir=collect_dir)
        self.tasks = None if tasks is None else list(tasks)
        for task in (self.tasks or []) + list(num_classes or {}):
            _check_task(task)
        self.num_classes = dict(num_classes or {})
        self.ignore_index = ignore_index
        check_choice('alignment', alignment, ALIGN_SCOPES)
        if absent_class_iou is not None and not 0 <= absent_class_iou <= 1:
            raise ValueError(f'absent_class_iou must lie in [0, 1] or be '
                             f'None, got {absent_class_iou}')
        self.alignment = alignment
        self.absent_class_iou = absent_class_iou
        # categorical evaluators are built on first use, when dataset_meta
        # (which may hold the semseg classes) has been set
        self._evaluators: Dict[str, TaskEvaluator] = dict(
            depth=DepthEvaluator(
                align=depth_align, ignore_index=ignore_index,
                scope=alignment),
            normals=NormalsEvaluator(
                bin_deg=normals_bin_deg, ignore_index=ignore_index),
            edge=EdgeEvaluator(
                align=edge_align,
                odsf=edge_odsf,
                thresholds=edge_thresholds,
                max_dist=edge_max_dist,
                thin=edge_thin,
                tolerance_f=edge_tolerance_f,
                tolerance_px=edge_tolerance_px,
                ignore_index=ignore_index,
                scope=alignment,
                l1_input=edge_pred),
            saliency=SaliencyEvaluator(
                thresholds=saliency_thresholds,
                beta2=saliency_beta2,
                ignore_index=ignore_index))
        self._unevaluated = set()  # tasks warned about, without evaluator
        self.baseline = None if baseline is None else _load_metrics(
            baseline, self.prefix)
        if delta_m_keys is not None:
            _check_metric_keys(delta_m_keys, 'delta_m_keys')
        self.delta_m_keys = delta_m_keys

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        """Add one statistics dict ``{task: stats}`` per sample; with
        ``alignment='per_batch'`` the samples of this call share one
        scale-and-shift fit per task."""
        pairs = []
        for sample in data_samples:
            if isinstance(sample, BaseDataElement):
                sample = sample.to_dict()
            maps = {}
            for task in self._sample_tasks(sample):
                pred = sample[PRED_PREFIX + task]['data']
                gt = sample[GT_PREFIX + task]['data'].to(pred.device)
                if pred.shape != gt.shape:
                    raise ValueError(
                        f'{task}: prediction shape {tuple(pred.shape)} '
                        f'differs from gt shape {tuple(gt.shape)}')
                maps[task] = (pred, gt)
            pairs.append(maps)
        fits = self._batch_fits(pairs) \
            if self.alignment == 'per_batch' else {}
        for maps in pairs:
            entry = {}
            for task, (pred, gt) in maps.items():
                extra = {'fit': fits[task]} if task in fits else {}
                try:
                    entry[task] = self._evaluator(task).stats(
                        pred, gt, **extra)
                except ValueError as err:
                    raise ValueError(f'{task}: {err}') from err
            self.results.append(entry)

    def _batch_fits(self, pairs: List[dict]) -> Dict[str, Fit]:
        """One least-squares (scale, shift) per aligned task over every
        valid pixel of the batch's samples."""
        values: Dict[str, list] = {}
        for maps in pairs:
            for task, (pred, gt) in maps.items():
                pixels = self._evaluator(task).fit_values(pred, gt)
                if pixels is not None:
                    values.setdefault(task, []).append(pixels)
        fits = {}
        for task, pixels in values.items():
            p = torch.cat([v[0].flatten() for v in pixels])
            g = torch.cat([v[1].flatten() for v in pixels])
            if p.numel() > 0:
                fits[task] = fit_scale_shift(p, g)
        return fits

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        metrics = {}
        tasks = sorted({task for entry in results for task in entry})
        for task in sorted(set(self.tasks or []) - set(tasks)):
            print_log(f'MultiTaskMetric: no sample had ground truth for '
                      f'{task!r}', logger='current')
        for task in tasks:
            stats = [entry[task] for entry in results if task in entry]
            evaluator = self._evaluator(task)
            for name, value in evaluator.scores(stats).items():
                metrics[f'{task}/{name}'] = value
            if isinstance(evaluator, CategoricalEvaluator):
                self._log_per_class_iou(task, evaluator.per_class_iou(stats))
        if self.baseline is not None:
            metrics['delta_m'] = delta_m(metrics, self.baseline,
                                         self.delta_m_keys)
        return metrics

    def _sample_tasks(self, sample: dict) -> List[str]:
        """Tasks of ``sample`` to evaluate: those with gt, among
        ``self.tasks`` or else among those that also have a prediction."""
        gt_tasks = [k[len(GT_PREFIX):] for k in sample
                    if k.startswith(GT_PREFIX)]
        pred_tasks = [k[len(PRED_PREFIX):] for k in sample
                      if k.startswith(PRED_PREFIX)]
        if self.tasks is None:
            return sorted(t for t in gt_tasks
                          if t in pred_tasks and self._has_evaluator(t))
        tasks = [t for t in self.tasks if t in gt_tasks]
        missing = [t for t in tasks if t not in pred_tasks]
        if missing:
            raise KeyError(f'no prediction for task(s) {missing} in a sample '
                           f'with predictions for {sorted(pred_tasks)}')
        return tasks

    def _has_evaluator(self, task: str) -> bool:
        """Whether ``task`` has a registered evaluator; warns (once per
        task) when not."""
        if task in self._evaluators or TASK_EVALUATORS.get(task) is not None:
            return True
        if task not in self._unevaluated:
            self._unevaluated.add(task)
            print_log(f'MultiTaskMetric: no evaluator registered for task '
                      f'{task!r}, which is not evaluated; registered: '
                      f'{sorted(TASK_EVALUATORS.module_dict)}',
                      logger='current', level=logging.WARNING)
        return False

    def _evaluator(self, task: str) -> TaskEvaluator:
        if task not in self._evaluators:
            cls = TASK_EVALUATORS.get(task)
            kwargs = dict(ignore_index=self.ignore_index)
            if issubclass(cls, CategoricalEvaluator):
                kwargs['num_classes'] = self._num_classes(task)
                kwargs['absent_iou'] = self.absent_class_iou
            self._evaluators[task] = cls(**kwargs)
        return self._evaluators[task]

    def _num_classes(self, task: str) -> int:
        if task in self.num_classes:
            return self.num_classes[task]
        classes = (self.dataset_meta or {}).get('classes')
        if task == 'semseg' and classes is not None:
            return len(classes)
        raise ValueError(
            f'number of classes of {task!r} unknown: pass '
            f'num_classes=dict({task}=...)' +
            (" or set dataset_meta['classes']" if task == 'semseg' else ''))

    def _log_per_class_iou(self, task: str, iou) -> None:
        names = (self.dataset_meta or {}).get('classes')
        if task != 'semseg' or names is None or len(names) != len(iou):
            names = [str(i) for i in range(len(iou))]
        print_log(
            f'{task} IoU per class: ' +
            ', '.join(f'{n} {v:.2f}' for n, v in zip(names, iou)),
            logger='current')


def _check_task(task: str) -> str:
    if TASK_EVALUATORS.get(task) is None:
        raise KeyError(f'no evaluator for task {task!r}; evaluated tasks: '
                       f'{sorted(TASK_EVALUATORS.module_dict)}')
    return task


def _check_metric_keys(keys, what: str) -> None:
    directions = metric_directions()
    unknown = sorted(k for k in keys if k not in directions)
    if unknown:
        raise KeyError(f'unknown metric key(s) {unknown} in {what}; valid '
                       f'keys: {sorted(directions)}')


def _load_metrics(source: Union[str, Dict[str, float]],
                  prefix: Optional[str] = None) -> Dict[str, float]:
    """A flat ``{metric key: value}`` dict from a dict or a results file
    (flat, or under a top-level ``'metrics'`` key). Keys may carry this
    metric's ``prefix``; a stored ``'delta_m'`` is dropped, since it is
    relative to some other baseline."""
    metrics = load(source) if isinstance(source, str) else dict(source)
    if isinstance(metrics.get('metrics'), dict):
        metrics = metrics['metrics']
    if prefix:
        metrics = {
            k[len(prefix) + 1:] if k.startswith(prefix + '/') else k: v
            for k, v in metrics.items()
        }
    metrics.pop('delta_m', None)
    _check_metric_keys(metrics, 'baseline')
    bad = {k: v for k, v in metrics.items()
           if isinstance(v, bool) or not isinstance(v, (int, float))}
    if bad:
        raise ValueError(f'baseline values must be numbers; got {bad}')
    return {k: float(v) for k, v in metrics.items()}
