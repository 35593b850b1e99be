"""Drive a test-time adaptation method inside ``runner.test()``."""
from typing import Optional, Sequence, Union

from mmengine.hooks import Hook

from s4t_mm.engine.runner import TestTimeAdaptLoop
from s4t_mm.registry import HOOKS
from s4t_mm.tta.session import AdaptationSession
from s4t_mm.utils import unwrap_model

__all__ = ['TestTimeAdaptHook']


@HOOKS.register_module()
class TestTimeAdaptHook(Hook):
    """Adapt the model to the test stream with an adapter and a protocol.

    Plug it into any config that has a test loop::

        custom_hooks = [dict(type='s4t_mm.TestTimeAdaptHook',
                             adapter=dict(type='S4TAdapter'),
                             protocol=dict(type='episodic', steps=10))]

    This is for test loops that know nothing of adaptation (mmengine's
    ``TestLoop``, a stock mmseg config); s4t_mm's
    :class:`~s4t_mm.engine.TestTimeAdaptLoop` owns its session and needs
    no hook. A thin caller of its
    :class:`~s4t_mm.tta.session.AdaptationSession` (:attr:`session`): each
    test run is one target domain, each test batch is given to the session
    before it is predicted, and its predictions are checked after
    (non-finite ones make the adapter restore its last good state). The
    adapter adapts on a copy of the batch without labels, preprocessed on
    its own; the loop's test step preprocesses the batch again and scores
    the original. After each run the session's report's counters and
    events are put into the message hub as ``tta_stats`` and
    ``tta_events``.

    Args:
        adapter: config of a registered adapter (``S4TAdapter``, ...).
        protocol: ``dict(type=name, **args)`` or a name: ``paper``,
            ``episodic``, ``online``, ``reset_every``; default episodic,
            one step.
        seed: combined with each batch's sample indices into the seed of
            that batch's adaptation (random masks etc.).
    """

    priority = 'VERY_HIGH'

    def __init__(self, adapter: dict,
                 protocol: Union[str, dict, None] = None, seed: int = 0):
        self.session = AdaptationSession(adapter, protocol, seed)

    @property
    def adapter(self):
        return self.session.adapter

    @property
    def protocol(self):
        return self.session.protocol

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        self.session.after_load_checkpoint(checkpoint)

    def before_test(self, runner) -> None:
        if isinstance(getattr(runner, 'test_loop', None), TestTimeAdaptLoop):
            raise ValueError(
                'the TestTimeAdaptLoop adapts the model itself; give it the '
                'adapter and protocol (test_cfg) and drop TestTimeAdaptHook '
                'from custom_hooks, or the model would adapt twice')
        self.session.bind(unwrap_model(runner.model))
        # a caller driving the hook by hand may have no loader; only the
        # paper protocol reads it
        self.session.begin_domain(getattr(runner, 'test_dataloader', None))

    def before_test_iter(self, runner, batch_idx: int,
                         data_batch: Optional[dict] = None) -> None:
        self.session.before_batch(batch_idx, data_batch)

    def after_test_iter(self, runner, batch_idx: int,
                        data_batch: Optional[dict] = None,
                        outputs: Optional[Sequence] = None) -> None:
        self.session.after_predict(batch_idx, outputs or [])

    def after_test(self, runner) -> None:
        report = self.session.report()
        runner.message_hub.update_info('tta_stats', report.stats)
        runner.message_hub.update_info('tta_events', report.events)
