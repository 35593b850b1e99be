"""Record how every task behaves along test-time adaptation."""
import os.path as osp
from typing import List, Optional

import torch
from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.logging import print_log

from s4t_mm.registry import HOOKS
from s4t_mm.tta.protocols import PaperProtocol
from s4t_mm.evaluation.task_sync import sync_report, task_losses
from s4t_mm.visualization.sync_plots import plot_sync
from .test_time_adapt_hook import TestTimeAdaptHook


@HOOKS.register_module()
class TaskSyncHook(Hook):
    """Task-synchronisation diagnostics of a :class:`TestTimeAdaptHook`.

    Put it next to the adaptation hook::

        custom_hooks = [dict(type='TestTimeAdaptHook', ...),
                        dict(type='TaskSyncHook', interval=5,
                             analysis=True)]

    Every test run (one target domain) it records each task's
    self-supervised loss at every adaptation step (the adapter's
    ``last_losses``, grouped by task). With ``analysis=True`` (paper
    protocol only) it also scores the model on the labelled test set before
    adapting and after every ``interval`` steps; the final point is the test
    loop's own result. The scoring runs in eval mode without gradients and
    with the random state saved and restored, so the adapted weights are
    bitwise those of a run without this hook; labels reach only the
    evaluator, and a scoring pass that changed any tensor the adapter
    tracks raises an error.

    After each run the report of
    :func:`~s4t_mm.evaluation.task_sync.sync_report` (best step per task,
    spread, normalised curves, losses) is appended to :attr:`reports`, put
    into the message hub as ``task_sync`` and, with ``plot``, drawn by the
    main process with the runner's visualizer as image ``task_sync`` at
    step ``<run>`` (0, 1, ... for the runner's successive test runs), so
    every vis backend gets it (``LocalVisBackend``:
    ``<log_dir>/vis_data/vis_image/task_sync_<run>.png``; TensorBoard,
    WandB) and, with ``out_dir``, also ``<out_dir>/task_sync_<run>.png``.

    Args:
        interval: adaptation steps between two scorings.
        analysis: score with labels (an analysis run); otherwise only the
            losses are recorded.
        tolerance: a task's best step is the earliest within this many
            percentage points of its best relative improvement.
        plot: draw a plot per run.
        out_dir: a folder to write each plot into as well, beside the
            visualizer's backends.
    """

    # before the adaptation hook (VERY_HIGH), whose before_test adapts
    priority = 'HIGHEST'

    def __init__(self, interval: int = 5, analysis: bool = False,
                 tolerance: float = 0.0, plot: bool = True,
                 out_dir: Optional[str] = None):
        if interval < 1:
            raise ValueError(f'interval must be >= 1, got {interval}')
        self.interval = interval
        self.analysis = analysis
        self.tolerance = tolerance
        self.plot = plot
        self.out_dir = out_dir
        self.reports: List[dict] = []
        self._observed = None
        self._run: Optional[dict] = None
        self._runner = None
        self._tta: Optional[TestTimeAdaptHook] = None

    def before_test(self, runner) -> None:
        tta = next((h for h in runner.hooks
                    if isinstance(h, TestTimeAdaptHook)), None)
        if tta is None:
            raise ValueError('TaskSyncHook needs a TestTimeAdaptHook in '
                             'custom_hooks; there is no adaptation to '
                             'observe')
        if self.analysis and not isinstance(tta.protocol, PaperProtocol):
            raise ValueError(
                'TaskSyncHook(analysis=True) needs the paper protocol '
                '(adapt, then evaluate), got '
                f'{type(tta.protocol).__name__}; use analysis=False to '
                'record only the losses')
        self._observe(tta.adapter)
        self._runner = runner
        self._tta = tta
        self._run = dict(losses=[], steps=[], metrics=[])
        if self.analysis:
            self._run['final_step'] = self._final_step(runner, tta.protocol)

    def _observe(self, adapter) -> None:
        """Register (once per adapter) to see every adaptation step."""
        if self._observed is adapter:
            return
        adapter.register_step_callback(before=self._before_step,
                                       after=self._after_step)
        self._observed = adapter

    @staticmethod
    def _final_step(runner, protocol: PaperProtocol) -> int:
        """Adaptation steps of the paper protocol on this test set."""
        loader = runner.test_loop.dataloader
        batch_size = protocol.batch_size or loader.batch_size
        available = -(-len(loader.dataset) // batch_size)
        return protocol.steps * min(protocol.num_batches, available)

    def _before_step(self, adapter) -> None:
        if self._run is None:
            return
        if self.analysis and not self._run['steps']:
            self._score(0)

    def _after_step(self, adapter) -> None:
        if self._run is None:
            return
        self._run['losses'].append(dict(adapter.last_losses))
        step = len(self._run['losses'])
        if self.analysis and step % self.interval == 0 and \
                step < self._run['final_step']:
            self._score(step)

    def _score(self, step: int) -> None:
        """Evaluate the current weights on the labelled test set."""
        runner, loop = self._runner, self._runner.test_loop
        tracked = self._tta.adapter.snapshot.tensors
        before = [t.detach().clone() for t in tracked]
        model = runner.model
        was_training = model.training
        devices = [torch.cuda.current_device()] \
            if torch.cuda.is_available() else []
        model.eval()
        try:
            with torch.no_grad(), torch.random.fork_rng(devices=devices):
                for data_batch in loop.dataloader:
                    outputs = model.test_step(data_batch)
                    loop.evaluator.process(data_samples=outputs,
                                           data_batch=data_batch)
                metrics = loop.evaluator.evaluate(len(loop.dataloader.dataset))
        finally:
            model.train(was_training)
        if not all(torch.equal(a, b) for a, b in zip(before, tracked)):
            raise RuntimeError('scoring with labels changed an adapted '
                               'tensor; labels must never adapt the model')
        self._run['steps'].append(step)
        self._run['metrics'].append(dict(metrics))

    def after_test_epoch(self, runner, metrics=None) -> None:
        if self._run is None or not self.analysis or metrics is None:
            return
        step = len(self._run['losses'])
        if not self._run['steps'] or self._run['steps'][-1] != step:
            self._run['steps'].append(step)
            self._run['metrics'].append(dict(metrics))

    def after_test(self, runner) -> None:
        run, self._run = self._run, None
        if run is None:
            return
        if self.analysis:
            report = sync_report(run['steps'], run['metrics'],
                                 losses=run['losses'],
                                 tolerance=self.tolerance)
        else:
            report = dict(steps=list(range(1, len(run['losses']) + 1)),
                          keys=[], metrics={}, normalised={}, best_step={},
                          spread=0, losses=task_losses(run['losses']))
        self.reports.append(report)
        runner.message_hub.update_info('task_sync', report)
        if not is_main_process():
            return
        if self.analysis:
            print_log(f'task sync: best step per task {report["best_step"]}'
                      f', spread {report["spread"]}', logger='current')
        if self.plot and (self.analysis or report['losses']):
            run = len(self.reports) - 1
            plot_sync(report, None if self.out_dir is None else osp.join(
                self.out_dir, f'task_sync_{run}.png'),
                visualizer=runner.visualizer, name='task_sync', step=run)
