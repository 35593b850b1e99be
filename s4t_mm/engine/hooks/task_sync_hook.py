"""Record how every task behaves along test-time adaptation."""
import os.path as osp
from typing import List, Optional

import torch
from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.logging import print_log

from s4t_mm.engine.runner import TestTimeAdaptLoop
from s4t_mm.evaluation.task_sync import sync_report, task_losses
from s4t_mm.registry import HOOKS
from s4t_mm.tta.protocols import PaperProtocol
from s4t_mm.tta.session import AdaptationSession
from s4t_mm.visualization.sync_plots import plot_sync


@HOOKS.register_module()
class TaskSyncHook(Hook):
    """Task-synchronisation diagnostics of a
    :class:`~s4t_mm.engine.TestTimeAdaptLoop`'s adaptation.

    Put it beside the loop::

        test_cfg = dict(type='TestTimeAdaptLoop', adapter=..., protocol=...)
        custom_hooks = [dict(type='TaskSyncHook', interval=5, analysis=True)]

    It observes the loop's :class:`~s4t_mm.tta.session.AdaptationSession`
    (:meth:`~s4t_mm.tta.session.AdaptationSession.add_observer`, which
    calls it around every adaptation step). Every target domain (one test
    epoch) it records each task's self-supervised loss at every adaptation
    step (the adapter's ``last_losses``, grouped by task). With
    ``analysis=True`` (paper protocol only) it also scores the model on the
    domain's labelled test set before adapting and after every
    ``interval`` steps; the final point is the test loop's own result.
    The paper protocol adapts step after step on one batch with one random
    stream, so a point between two steps is scored there, from the
    observer's callback: in eval mode, without gradients and with the
    random state saved and restored, so the adapted weights are bitwise
    those of a run without this hook; labels reach only the evaluator, and
    a scoring pass that changed any tensor the adapter tracks raises an
    error.

    After each domain the report of
    :func:`~s4t_mm.evaluation.task_sync.sync_report` (best step per task,
    spread, normalised curves, losses) is appended to :attr:`reports`, put
    into the message hub as ``task_sync`` and, with ``plot``, drawn by the
    main process with the runner's visualizer as image ``task_sync`` at
    step ``<domain>`` (0, 1, ... for the runner's successive domains), so
    every vis backend gets it (``LocalVisBackend``:
    ``<log_dir>/vis_data/vis_image/task_sync_<domain>.png``; TensorBoard,
    WandB) and, with ``out_dir``, also ``<out_dir>/task_sync_<domain>.png``.

    Args:
        interval: adaptation steps between two scorings.
        analysis: score with labels (an analysis run); otherwise only the
            losses are recorded.
        tolerance: a task's best step is the earliest within this many
            percentage points of its best relative improvement.
        plot: draw a plot per domain.
        out_dir: a folder to write each plot into as well, beside the
            visualizer's backends.
    """

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
        self._run: Optional[dict] = None
        self._runner = None

    def before_test(self, runner) -> None:
        loop = runner.test_loop
        session = loop.session if isinstance(loop, TestTimeAdaptLoop) \
            else None
        if session is None:
            raise ValueError(
                'TaskSyncHook observes the adaptation of a TestTimeAdaptLoop '
                "(test_cfg=dict(type='TestTimeAdaptLoop', adapter=..., "
                f'protocol=...)); this runner\'s test loop, a '
                f'{type(loop).__name__}, adapts nothing')
        if self.analysis and not isinstance(session.protocol, PaperProtocol):
            raise ValueError(
                'TaskSyncHook(analysis=True) needs the paper protocol '
                '(adapt, then evaluate), got '
                f'{type(session.protocol).__name__}; use analysis=False to '
                'record only the losses')
        session.add_observer(self)
        self._runner = runner

    def before_test_epoch(self, runner) -> None:
        self._run = dict(losses=[], steps=[], metrics=[])
        if self.analysis:
            self._run['final_step'] = self._final_step(
                runner.test_loop.dataloader, runner.test_loop.session.protocol)

    @staticmethod
    def _final_step(loader, protocol: PaperProtocol) -> int:
        """Adaptation steps of the paper protocol on this test set."""
        batch_size = protocol.batch_size or loader.batch_size
        available = -(-len(loader.dataset) // batch_size)
        return protocol.steps * min(protocol.num_batches, available)

    def before_adapt_step(self, session: AdaptationSession) -> None:
        """Score the state adaptation starts from, before its first step."""
        if self._run is None:
            return
        if self.analysis and not self._run['steps']:
            self._score(session, 0)

    def after_adapt_step(self, session: AdaptationSession) -> None:
        """Record the step's losses; score every ``interval`` steps."""
        if self._run is None:
            return
        self._run['losses'].append(dict(session.adapter.last_losses))
        step = len(self._run['losses'])
        if self.analysis and step % self.interval == 0 and \
                step < self._run['final_step']:
            self._score(session, step)

    def _score(self, session: AdaptationSession, step: int) -> None:
        """Evaluate the current weights on the labelled test set."""
        runner, loop = self._runner, self._runner.test_loop
        tracked = session.adapter.snapshot.tensors
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
        run, self._run = self._run, None
        if run is None:
            return
        if self.analysis and metrics is not None:
            step = len(run['losses'])
            if not run['steps'] or run['steps'][-1] != step:
                run['steps'].append(step)
                run['metrics'].append(dict(metrics))
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
            index = len(self.reports) - 1
            plot_sync(report, None if self.out_dir is None else osp.join(
                self.out_dir, f'task_sync_{index}.png'),
                visualizer=runner.visualizer, name='task_sync', step=index)
