"""One adaptation flow (adapter, protocol, seed rule) shared by every caller:
the test-time adaptation loop, the hook of plain test loops, the inferencer
and the analysis APIs."""
from dataclasses import dataclass, field
from typing import Dict, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmengine.structures import BaseDataElement

from s4t_mm.registry import ADAPTERS
from s4t_mm.structures import without_ground_truth
from s4t_mm.utils import build_checked, unwrap_model
from .protocols import build_protocol


@dataclass
class AdaptationReport:
    """What adaptation did in one target domain: the adapter's counters
    over the domain (steps, resets, failures, restores) and its failure
    events (``step``, ``event``, ``action``)."""

    stats: Dict[str, int] = field(default_factory=dict)
    events: List[dict] = field(default_factory=list)
    #: The normalisation policy's weight of the target statistics per
    #: layer on the last adapted batch (blending policies only; 0 keeps
    #: the source's), so a report shows where a shift was acted on.
    norm_weights: Dict[str, float] = field(default_factory=dict)
    #: The policy's shift score per layer on that batch, before its steps
    #: (the gated policy's ``z``, in source spreads; others: empty).
    norm_scores: Dict[str, float] = field(default_factory=dict)

    @property
    def steps(self) -> int:
        return self.stats.get('steps', 0)


class AdaptationSession:
    """An adapter driven by a protocol over target domains, with one seed
    rule, for whatever predicts the batches::

        session = AdaptationSession(dict(type='S4TAdapter'), 'episodic')
        session.bind(model)
        session.begin_domain(dataloader)         # the paper protocol adapts
        for batch_idx, data_batch in enumerate(dataloader):
            session.before_batch(batch_idx, data_batch)    # may adapt
            outputs = session.predict(model, batch_idx, data_batch)
            session.after_predict(batch_idx, outputs)      # the guard
        report = session.report()

    What an adapter gets of a batch is :meth:`unlabeled`: the preprocessed
    images and a seed, never a data sample. A copy of the batch without
    ground truth is preprocessed for it, and the caller's test step
    preprocesses the batch again to predict it. A caller that predicts
    through :meth:`predict` sets :attr:`reuse_preprocessing` (the
    :class:`~s4t_mm.engine.TestTimeAdaptLoop`, the inferencer): the batch
    being predicted is then preprocessed once, labels and all as
    ``test_step`` would, its images go to the adapter and :meth:`predict`
    reuses the whole, so the metric scores exactly what a plain test step
    would have given it. Batches that are only adapted on (the paper
    protocol's) are always stripped of their labels first.

    Observers (:meth:`add_observer`) watch the adaptation step by step
    without being part of it: each may define
    ``before_adapt_step(session)`` and ``after_adapt_step(session)``,
    called around every adaptation step in the order they were added
    (e.g. :class:`~s4t_mm.engine.hooks.TaskSyncHook` reads
    ``session.adapter.last_losses`` after each step).

    Args:
        adapter: config of a registered adapter (``S4TAdapter``, ...).
        protocol: ``dict(type=name, **args)``, a name or None (the default
            protocol, see :func:`~s4t_mm.tta.protocols.build_protocol`).
        seed: combined with each batch's sample indices into the seed of
            that batch's adaptation (:meth:`batch_seed`).
        protocol_defaults: per protocol name, keys filled in where
            ``protocol`` leaves them unset.
        reuse_preprocessing: the caller predicts through :meth:`predict`.
    """

    def __init__(self, adapter: dict,
                 protocol: Union[str, dict, None] = None, seed: int = 0,
                 protocol_defaults: Optional[Dict[str, dict]] = None,
                 reuse_preprocessing: bool = False):
        self.adapter = build_checked(ADAPTERS, adapter, 'adapter')
        self.protocol = build_protocol(protocol, protocol_defaults)
        self.seed = seed
        #: the caller predicts through :meth:`predict`, which reuses the
        #: preprocessing of an adapted batch
        self.reuse_preprocessing = reuse_preprocessing
        self.model: Optional[torch.nn.Module] = None
        self._observers: List[object] = []
        self._stats_before: Dict[str, int] = {}
        # the batch being predicted: (batch_idx, data_batch, preprocessed)
        self._batch: Optional[Tuple[int, dict, Optional[dict]]] = None

    def bind(self, model: torch.nn.Module) -> None:
        """Adapt ``model`` (snapshotting its source state) unless it is the
        model already bound."""
        if self.model is not model:
            self.model = model
            self.adapter.bind(model)

    def add_observer(self, observer) -> None:
        """Call ``observer.before_adapt_step(self)`` and
        ``observer.after_adapt_step(self)`` (where it defines them) around
        every adaptation step from now on; adding one twice adds it once."""
        if not self._observers:  # the adapter calls the session from now
            self.adapter.register_step_callback(
                before=lambda _: self._notify('before_adapt_step'),
                after=lambda _: self._notify('after_adapt_step'))
        if not any(o is observer for o in self._observers):
            self._observers.append(observer)

    def _notify(self, event: str) -> None:
        for observer in self._observers:
            callback = getattr(observer, event, None)
            if callback is not None:
                callback(self)

    def after_load_checkpoint(self, checkpoint: dict) -> None:
        """Hand the loaded source checkpoint to the adapter's normalisation
        policy (the gated one reads its calibration there)."""
        self.adapter.norm_policy.after_load_checkpoint(checkpoint)

    def begin_domain(self, dataloader=None) -> None:
        """Start a target domain: the adapter's counters of the domain start
        here and the protocol's ``before_domain`` runs (the paper protocol
        adapts on ``dataloader``'s batches; others need none)."""
        self._batch = None
        self._stats_before = dict(self.adapter.stats)
        self.adapter.begin_domain()
        self.protocol.before_domain(self.adapter, self.unlabeled, dataloader)

    def before_batch(self, batch_idx: int, data_batch: dict) -> None:
        """Batch ``batch_idx`` is predicted next; the protocol resets or
        adapts on it as it says."""
        self._batch = (batch_idx, data_batch, None)
        self.protocol.before_batch(self.adapter, self.unlabeled, batch_idx,
                                   data_batch)

    def unlabeled(self, data_batch: dict, batch_idx: int
                  ) -> Tuple[torch.Tensor, int]:
        """What the protocol adapts on (its
        :data:`~s4t_mm.tta.protocols.UnlabeledFn`): the batch's preprocessed
        images ``(N, C, H, W)`` and its seed."""
        if self.reuse_preprocessing and \
                self._is_predicted(batch_idx, data_batch):
            inputs = self._preprocessed()['inputs']
        else:
            batch = dict(data_batch)
            if 'data_samples' in batch:
                batch['data_samples'] = [
                    without_ground_truth(s) for s in batch['data_samples']]
            inputs = self.model.data_preprocessor(batch,
                                                  training=False)['inputs']
        return inputs, self.batch_seed(data_batch, batch_idx)

    def predict(self, model: torch.nn.Module, batch_idx: int,
                data_batch: dict) -> list:
        """``model.test_step(data_batch)``, reusing the preprocessing of an
        adapted batch instead of running it again."""
        if self._is_predicted(batch_idx, data_batch) and \
                self._batch[2] is not None:
            return unwrap_model(model)(**self._batch[2], mode='predict')
        return model.test_step(data_batch)

    def after_predict(self, batch_idx: int,
                      outputs: Sequence[BaseDataElement]) -> bool:
        """Check the predictions of a batch: non-finite ones make the
        adapter restore its last good state (:meth:`BaseAdapter.recover`)
        for the batches that follow. Returns whether it did."""
        tensors = list(prediction_tensors(outputs))
        if tensors and not bool(torch.stack(
                [torch.isfinite(t).all() for t in tensors]).all()):
            self.adapter.recover('non_finite_predictions', batch=batch_idx)
            return True
        return False

    def report(self) -> AdaptationReport:
        """The current domain's adaptation so far."""
        norm = self.adapter.norm_policy.report()
        return AdaptationReport(
            stats={k: v - self._stats_before.get(k, 0)
                   for k, v in self.adapter.stats.items()},
            events=list(self.adapter.events),
            norm_weights=dict(norm.weights), norm_scores=dict(norm.scores))

    def batch_seed(self, data_batch: dict, batch_idx: int) -> int:
        """The seed of the adaptation on a batch, from the ``sample_idx`` of
        its samples (the batch index where one is missing), so a batch is
        adapted the same way whatever came before it, on any rank."""
        ids = [s.metainfo.get('sample_idx', -1)
               for s in data_batch.get('data_samples', [])]
        key = [self.seed, batch_idx] if -1 in ids or not ids else \
            [self.seed] + [int(i) for i in ids]
        return int(np.random.SeedSequence(key).generate_state(1)[0])

    def _is_predicted(self, batch_idx: int, data_batch: dict) -> bool:
        return self._batch is not None and self._batch[0] == batch_idx \
            and self._batch[1] is data_batch

    def _preprocessed(self) -> dict:
        batch_idx, data_batch, data = self._batch
        if data is None:
            data = self.model.data_preprocessor(data_batch, training=False)
            self._batch = (batch_idx, data_batch, data)
        return data


def prediction_tensors(samples: Sequence[BaseDataElement]
                       ) -> Iterator[torch.Tensor]:
    """The floating-point tensors of predicted data samples (every field
    but ground truth: ``pred_<task>`` maps, mmseg's ``seg_logits``)."""
    for sample in samples:
        for key in sample.keys():
            if key.startswith('gt_'):
                continue
            value = sample.get(key)
            values = value.values() if isinstance(value, BaseDataElement) \
                else [value]
            for tensor in values:
                if isinstance(tensor, torch.Tensor) and \
                        tensor.is_floating_point():
                    yield tensor
