"""One runner, one model, several target domains, one after the other."""
from typing import Dict, Union

from mmengine.logging import HistoryBuffer
from mmengine.runner import TestLoop
from torch.utils.data import DataLoader

from s4t_mm.registry import LOOPS


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
        return super().run()
