"""Drive a test-time adaptation method inside ``runner.test()``."""
from typing import Iterator, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmengine.hooks import Hook
from mmengine.structures import BaseDataElement

from s4t_mm.registry import ADAPTERS, HOOKS
from s4t_mm.structures import without_ground_truth
from s4t_mm.tta.protocols import build_protocol
from s4t_mm.utils import check_config_keys, unwrap_model


@HOOKS.register_module()
class TestTimeAdaptHook(Hook):
    """Adapt the model to the test stream with an adapter and a protocol.

    Plug it into any config that has a test loop::

        custom_hooks = [dict(type='s4t_mm.TestTimeAdaptHook',
                             adapter=dict(type='S4TAdapter'),
                             protocol=dict(type='episodic', steps=10))]

    The hook binds the adapter to the model (snapshotting the source state)
    at the first ``before_test``; the protocol decides when to reset and
    when to adapt. Ground truth is stripped from every sample before the
    batch is preprocessed for the adapter, so labels never reach adaptation;
    the test loop itself still predicts and scores the original batch.

    The predictions of every test batch are checked: non-finite ones are
    reported to the adapter (:meth:`BaseAdapter.recover`), which restores
    its last good state for the batches that follow.

    After each test run (one target domain) the adapter's counters of that
    run (steps, resets, failures, restores) are put into the message hub as
    ``tta_stats`` and its failure events (step, event, action) as
    ``tta_events``.

    Args:
        adapter: config of a registered adapter (``S4TAdapter``, ...).
        protocol: ``dict(type=name, **args)`` or a name: ``paper``,
            ``episodic``, ``online``, ``reset_every``.
        seed: combined with each batch's sample indices into the seed of
            that batch's adaptation (random masks etc.).
    """

    priority = 'VERY_HIGH'

    def __init__(self, adapter: dict,
                 protocol: Union[str, dict] = dict(type='episodic', steps=1),
                 seed: int = 0):
        name = adapter.get('type', '')
        adapter_cls = ADAPTERS.get(name)
        if adapter_cls is None:
            valid = sorted(ADAPTERS.module_dict)
            raise ValueError(f'unknown adapter (method) {name!r}; registered '
                             f'adapters: {", ".join(valid)}')
        check_config_keys(adapter_cls, adapter, 'adapter')
        self.adapter = ADAPTERS.build(dict(adapter, _scope_='s4t_mm'))
        self.protocol = build_protocol(protocol)
        self.seed = seed
        self.model: Optional[torch.nn.Module] = None

    def before_test(self, runner) -> None:
        model = unwrap_model(runner.model)
        if self.model is not model:
            self.model = model
            self.adapter.bind(model)
        self._stats_before = dict(self.adapter.stats)
        self.adapter.begin_domain()
        # a caller driving the hook by hand may have no loader; only the
        # paper protocol reads it
        self.protocol.before_domain(self.adapter, self.unlabeled,
                                    getattr(runner, 'test_dataloader', None))

    def before_test_iter(self, runner, batch_idx: int,
                         data_batch: Optional[dict] = None) -> None:
        self.protocol.before_batch(self.adapter, self.unlabeled, batch_idx,
                                   data_batch)

    def after_test_iter(self, runner, batch_idx: int,
                        data_batch: Optional[dict] = None,
                        outputs: Optional[Sequence] = None) -> None:
        tensors = list(prediction_tensors(outputs or []))
        if tensors and not bool(torch.stack(
                [torch.isfinite(t).all() for t in tensors]).all()):
            self.adapter.recover('non_finite_predictions', batch=batch_idx)

    def after_test(self, runner) -> None:
        runner.message_hub.update_info('tta_stats', {
            k: v - self._stats_before.get(k, 0)
            for k, v in self.adapter.stats.items()
        })
        runner.message_hub.update_info('tta_events',
                                       list(self.adapter.events))

    def batch_seed(self, data_batch: dict, batch_idx: int) -> int:
        """A seed for the adaptation on this batch, from the ``sample_idx``
        of its samples (or the batch index), so a batch is adapted the same
        way whatever came before it, on any rank."""
        ids = [s.metainfo.get('sample_idx', -1)
               for s in data_batch.get('data_samples', [])]
        key = [self.seed, batch_idx] if -1 in ids or not ids else \
            [self.seed] + [int(i) for i in ids]
        return int(np.random.SeedSequence(key).generate_state(1)[0])

    def unlabeled(self, data_batch: dict, batch_idx: int
                  ) -> Tuple[torch.Tensor, int]:
        """What the protocol adapts on: the batch's unlabeled inputs and
        their seed (:data:`~s4t_mm.tta.protocols.UnlabeledFn`)."""
        return (self.unlabeled_inputs(data_batch),
                self.batch_seed(data_batch, batch_idx))

    def unlabeled_inputs(self, data_batch: dict) -> torch.Tensor:
        """The batch's preprocessed images, built from samples without
        ground truth."""
        batch = dict(data_batch)
        if 'data_samples' in batch:
            batch['data_samples'] = [
                without_ground_truth(s) for s in batch['data_samples']]
        return self.model.data_preprocessor(batch, training=False)['inputs']


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
