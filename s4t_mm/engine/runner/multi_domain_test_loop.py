"""One runner, one model, several target domains, one after the other."""
from typing import Dict, Optional, Sequence, Union

import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner import TestLoop, autocast
from mmengine.runner.loops import _update_losses
from torch.utils.data import DataLoader

from s4t_mm.registry import LOOPS
from s4t_mm.tta.session import AdaptationReport, AdaptationSession


@LOOPS.register_module()
class MultiDomainTestLoop(TestLoop):
    """mmengine's test loop, pointed at one target domain at a time.

    A runner built with ``test_cfg=dict(type='MultiDomainTestLoop')`` walks
    a list of domains with the same model and hooks (an online protocol
    carries its adapted state from one domain into the next)::

        for loader_cfg in domain_loaders:
            runner.test_loop.select(loader_cfg)
            metrics = runner.test()

    Each :meth:`select` builds the domain's dataloader as the Runner builds
    its own (seeded with the runner's seed) and a fresh evaluator from the
    runner's ``test_evaluator``, and gives both, and the runner's
    visualizer, the domain dataset's ``metainfo``. Nothing is built before
    (the runner's ``test_dataloader`` is the default domain, built at the
    first run without a :meth:`select`), so a domain's loader, and the
    random draws of building it, are the same as a plain test loop's.

    A :class:`~s4t_mm.engine.hooks.TestTimeAdaptHook` hands the loop its
    :class:`~s4t_mm.tta.session.AdaptationSession` (:attr:`session`): the
    loop then predicts each batch through it, so an adapted batch is
    preprocessed once, and keeps the session's report of each run as
    :attr:`report` (None without adaptation).
    """

    def __init__(self, runner, dataloader: Union[DataLoader, Dict],
                 evaluator, fp16: bool = False):
        # TestLoop.__init__ would build the default loader and evaluator
        self._runner = runner
        self._dataloader_cfg = dataloader
        self._evaluator_cfg = evaluator
        self.dataloader = None
        self.evaluator = None
        self.fp16 = fp16
        self.test_loss: Dict[str, HistoryBuffer] = dict()
        self.session: Optional[AdaptationSession] = None
        self.report: Optional[AdaptationReport] = None

    def select(self, dataloader: Union[DataLoader, Dict]) -> None:
        """Test on ``dataloader`` (a config or a built loader) from the next
        ``runner.test()`` on."""
        if isinstance(dataloader, dict):
            diff_rank_seed = self.runner._randomness_cfg.get(
                'diff_rank_seed', False)
            dataloader = self.runner.build_dataloader(
                dataloader, seed=self.runner.seed,
                diff_rank_seed=diff_rank_seed)
        self.dataloader = dataloader
        self.evaluator = self.runner.build_evaluator(self._evaluator_cfg) \
            if isinstance(self._evaluator_cfg, (dict, list)) \
            else self._evaluator_cfg
        metainfo = getattr(dataloader.dataset, 'metainfo', None)
        if metainfo is not None:
            self.evaluator.dataset_meta = metainfo
            self.runner.visualizer.dataset_meta = metainfo

    def run(self) -> dict:
        if self.dataloader is None:
            self.select(self._dataloader_cfg)
        metrics = super().run()
        self.report = None if self.session is None else \
            self.session.report()
        return metrics

    @torch.no_grad()
    def run_iter(self, idx: int, data_batch: Sequence[dict]) -> None:
        """mmengine's ``TestLoop.run_iter``, predicting through the
        session when there is one."""
        self.runner.call_hook(
            'before_test_iter', batch_idx=idx, data_batch=data_batch)
        with autocast(enabled=self.fp16):
            outputs = self.runner.model.test_step(data_batch) \
                if self.session is None else \
                self.session.predict(self.runner.model, idx, data_batch)
        outputs, self.test_loss = _update_losses(outputs, self.test_loss)
        self.evaluator.process(data_samples=outputs, data_batch=data_batch)
        self.runner.call_hook(
            'after_test_iter', batch_idx=idx, data_batch=data_batch,
            outputs=outputs)
