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
from s4t_mm.tasks import task_spec
from ..functional import fit_scale_shift
from ..multi_task_gain import delta_m, evaluated_tasks, metric_directions
from ..task_evaluators import (ALIGN_SCOPES, CategoricalEvaluator, Fit,
                               TaskEvaluator, check_choice)

#: The per-task keywords MultiTaskMetric took before ``task_cfgs``, each
#: as (task, argument of its evaluator); task None: every categorical task.
TASK_KEYWORDS = dict(
    depth_align=('depth', 'align'),
    edge_align=('edge', 'align'),
    edge_pred=('edge', 'l1_input'),
    edge_odsf=('edge', 'odsf'),
    edge_thresholds=('edge', 'thresholds'),
    edge_max_dist=('edge', 'max_dist'),
    edge_thin=('edge', 'thin'),
    edge_tolerance_f=('edge', 'tolerance_f'),
    edge_tolerance_px=('edge', 'tolerance_px'),
    saliency_thresholds=('saliency', 'thresholds'),
    saliency_beta2=('saliency', 'beta2'),
    normals_bin_deg=('normals', 'bin_deg'),
    absent_class_iou=(None, 'absent_iou'))


@METRICS.register_module()
class MultiTaskMetric(BaseMetric):
    """Metrics of every task whose spec names an evaluator
    (:mod:`s4t_mm.tasks`: semseg, human_parts, depth, normals, edge,
    saliency and any task registered since).

    Each processed sample adds to ``self.results`` only small per-task
    statistics (a confusion matrix, error sums, per-threshold counts, a
    sparse angle histogram), never a map, so results gather cheaply across
    ranks; :meth:`compute_metrics` pools them over the dataset. Output keys
    are ``'<task>/<metric>'`` (see
    :func:`s4t_mm.evaluation.multi_task_gain.metric_directions`), plus
    ``'delta_m'`` when a baseline is given. IoU, accuracies, shares within
    an angle and F-measures are percentages (0..100).

    Args:
        tasks: tasks to evaluate; None evaluates every task with both a
            ``gt_`` and a ``pred_`` field in a sample and an evaluator (one
            without is skipped with a warning). A sample without the gt of
            a task is skipped for that task.
        num_classes: classes per categorical task, e.g.
            ``dict(semseg=40, human_parts=7)``; a task whose spec has a
            ``classes_key`` (semseg) falls back to the length of that
            ``dataset_meta`` entry.
        ignore_index: label value of unlabelled pixels (all channels of it
            for normals), for every task.
        alignment: what one scale-and-shift fit of an aligning evaluator
            (depth and edge with ``align='scale_shift'``) covers:
            ``'per_image'`` (default) or ``'per_batch'``, one fit over all
            images of a ``process()`` call, i.e. of one test-loader batch,
            as the S4T reference fits its evaluation batches of 8 (keys then
            end in ``_batch_aligned``, else ``_aligned``). Batches follow
            the loader, so reproduce reference numbers with its batch size,
            unshuffled, on one process.
        task_cfgs: evaluator arguments per task, over those of its spec,
            e.g. ``dict(edge=dict(tolerance_f=True))``; see the evaluators
            in :mod:`s4t_mm.evaluation.task_evaluators`.
        baseline: metrics of the reference model (source-only), as a dict or
            a path to a JSON/YAML file holding that dict, flat or under a
            top-level ``'metrics'`` key. Enables ``'delta_m'``.
        delta_m_keys: metric keys for delta_m; default one per task
            (:func:`~s4t_mm.evaluation.multi_task_gain.delta_m_candidates`).
        **task_keywords: the older spelling of ``task_cfgs``
            (:data:`TASK_KEYWORDS`), still read:

            - ``depth_align``, ``edge_align``: None, or ``'scale_shift'`` to
              fit each predicted map to its gt by least squares before
              measuring (the S4T reference aligns depth and the edge L1).
            - ``edge_pred``: what the edge L1 error scores:
              ``'probability'`` (the head's output) or ``'logit'`` (the raw
              output recovered from it, the reference's choice for a
              Taskonomy target). F-measures always use probabilities.
            - ``absent_class_iou``: None (mmseg's convention: a class absent
              from both prediction and gt over the whole set is left out of
              mIoU) or the IoU, as a fraction, such a class counts with (0
              in the S4T reference); for every categorical task.
            - ``edge_odsf``: also compute BSDS ODS F (about 0.4 s per
              128x128 image with 19 thresholds on one CPU core, hence off
              by default); ``edge_thresholds`` (a count k / (n + 1), or the
              thresholds), ``edge_max_dist`` (fraction of the diagonal,
              BSDS: 0.0075) and ``edge_thin`` configure it.
            - ``edge_tolerance_f``: also compute ``edge/odsF_tol``, an ODS F
              allowing ``edge_tolerance_px`` pixels of offset (~1 ms per
              128x128 image); delta_m prefers it where it is measured.
            - ``saliency_thresholds``, ``saliency_beta2``: saliency maxF.
            - ``normals_bin_deg``: histogram bin (degrees) of the median.
    """

    def __init__(self,
                 tasks: Optional[Sequence[str]] = None,
                 num_classes: Optional[Dict[str, int]] = None,
                 ignore_index: int = 255,
                 alignment: str = 'per_image',
                 task_cfgs: Optional[Dict[str, dict]] = None,
                 baseline: Union[None, str, Dict[str, float]] = None,
                 delta_m_keys: Optional[Sequence[str]] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None,
                 collect_dir: Optional[str] = None,
                 **task_keywords) -> None:
        super().__init__(
            collect_device=collect_device,
            prefix=prefix,
            collect_dir=collect_dir)
        self.tasks = None if tasks is None else list(tasks)
        for task in (self.tasks or []) + list(num_classes or {}) + \
                list(task_cfgs or {}):
            _check_task(task)
        self.num_classes = dict(num_classes or {})
        self.ignore_index = ignore_index
        check_choice('alignment', alignment, ALIGN_SCOPES)
        self.alignment = alignment
        self.task_cfgs = _merge_task_keywords(task_cfgs or {}, task_keywords)
        self._evaluators: Dict[str, TaskEvaluator] = {
            task: self._build_evaluator(task) for task in evaluated_tasks()}
        self._unevaluated = set()  # tasks warned about, without evaluator
        self.baseline = None if baseline is None else _load_metrics(
            baseline, self.prefix)
        if delta_m_keys is not None:
            _check_metric_keys(delta_m_keys, 'delta_m_keys')
        self.delta_m_keys = delta_m_keys

    def _build_evaluator(self, task: str) -> TaskEvaluator:
        """The evaluator of ``task``'s spec with this metric's shared
        arguments, then ``task_cfgs[task]``; a categorical one gets its
        class count on first use if ``num_classes`` lacks it."""
        cfg = dict(task_spec(task).evaluator, ignore_index=self.ignore_index)
        cls = TASK_EVALUATORS.get(cfg['type'])
        if cls.aligns:
            cfg['scope'] = self.alignment
        if task in self.num_classes:
            cfg['num_classes'] = self.num_classes[task]
        cfg.update(self.task_cfgs.get(task, {}))
        return TASK_EVALUATORS.build(cfg)

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
        fits = self._batch_fits(pairs)
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
        """One least-squares (scale, shift) per task aligned per batch over
        every valid pixel of the batch's samples."""
        values: Dict[str, list] = {}
        for maps in pairs:
            for task, (pred, gt) in maps.items():
                evaluator = self._evaluator(task)
                if not evaluator.aligns or evaluator.scope != 'per_batch':
                    continue
                pixels = evaluator.fit_values(pred, gt)
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
        """Whether ``task``'s spec names an evaluator; warns (once per
        task) when not."""
        if task in self._evaluators or task in evaluated_tasks():
            return True
        if task not in self._unevaluated:
            self._unevaluated.add(task)
            print_log(f'MultiTaskMetric: no evaluator registered for task '
                      f'{task!r} (its task spec names none), which is not '
                      f'evaluated; evaluated tasks: '
                      f'{sorted(evaluated_tasks())}',
                      logger='current', level=logging.WARNING)
        return False

    def _evaluator(self, task: str) -> TaskEvaluator:
        if task not in self._evaluators:  # a spec registered since
            self._evaluators[task] = self._build_evaluator(task)
        evaluator = self._evaluators[task]
        if isinstance(evaluator, CategoricalEvaluator) and \
                evaluator.num_classes is None:
            evaluator.num_classes = self._num_classes(task)
        return evaluator

    def _num_classes(self, task: str) -> int:
        key = task_spec(task).classes_key
        classes = (self.dataset_meta or {}).get(key) if key else None
        if classes is not None:
            return len(classes)
        raise ValueError(
            f'number of classes of {task!r} unknown: pass '
            f'num_classes=dict({task}=...)' +
            (f" or set dataset_meta['{key}']" if key else ''))

    def _log_per_class_iou(self, task: str, iou) -> None:
        key = task_spec(task).classes_key
        names = (self.dataset_meta or {}).get(key) if key else None
        if names is None or len(names) != len(iou):
            names = [str(i) for i in range(len(iou))]
        print_log(
            f'{task} IoU per class: ' +
            ', '.join(f'{n} {v:.2f}' for n, v in zip(names, iou)),
            logger='current')


def _check_task(task: str) -> str:
    if task not in evaluated_tasks():
        raise KeyError(f'no evaluator for task {task!r}; evaluated tasks: '
                       f'{sorted(evaluated_tasks())}')
    return task


def _merge_task_keywords(task_cfgs: Dict[str, dict],
                         task_keywords: dict) -> Dict[str, dict]:
    """``task_cfgs`` with the older per-task keywords folded in."""
    unknown = sorted(set(task_keywords) - set(TASK_KEYWORDS))
    if unknown:
        raise TypeError(
            f'MultiTaskMetric got unknown argument(s) {unknown}; per-task '
            f'options go in task_cfgs=dict(<task>=dict(...)) or are one of '
            f'{", ".join(TASK_KEYWORDS)}')
    merged = {task: dict(cfg) for task, cfg in task_cfgs.items()}
    for keyword, value in task_keywords.items():
        task, arg = TASK_KEYWORDS[keyword]
        tasks = [task] if task else [
            t for t, cls in evaluated_tasks().items()
            if issubclass(cls, CategoricalEvaluator)]
        for t in tasks:
            cfg = merged.setdefault(t, {})
            if arg in cfg:
                raise ValueError(
                    f'{keyword}={value!r} and task_cfgs[{t!r}][{arg!r}]='
                    f'{cfg[arg]!r} both set it; keep one')
            cfg[arg] = value
    return merged


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
