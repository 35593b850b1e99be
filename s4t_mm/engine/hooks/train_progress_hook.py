"""Report every finished training iteration to a callable: how a training
that runs in a worker process tells its parent how far it is."""
from typing import Callable

from mmengine.hooks import Hook

from s4t_mm.registry import HOOKS


@HOOKS.register_module()
class TrainProgressHook(Hook):
    """Call ``report(done, total)`` after every training iteration: ``done``
    iterations of the run's ``total`` (``runner.max_iters``) are finished.

    The benchmark's workers (:mod:`s4t_mm.apis.benchmark_workers`) put the
    pair on a queue and the parent process draws mmengine's progress bar
    from it; training is unchanged.
    """

    priority = 'LOWEST'

    def __init__(self, report: Callable[[int, int], None]):
        self.report = report

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        self.report(runner.iter + 1, runner.max_iters)
