"""The benchmark in worker processes, the terminal kept to one line per
stage: what ``tools/benchmark_methods.py`` (and so ``tools/demo.sh``) runs
unless ``--verbose``.

:func:`~s4t_mm.apis.benchmark.run_benchmark` runs every stage in one
process and mmengine logs all of it to the terminal. :func:`run_in_workers`
runs the same stages in ``jobs`` spawned worker processes, each of whose
output (mmengine's console handler, progress bars, warnings) goes to
``work_dir/logs/worker<pid>.log``; every Runner also keeps its full log in
its own work dir, as mmengine does. The parent logs one line per stage to
the terminal and to ``work_dir/benchmark.log``:

1. rendering: every embedded-world dataset the run reads and the cache
   lacks (the source training's splits when it trains, each domain's test
   set), one dataset per task;
2. training, when ``source_work_dir`` holds no checkpoint: one worker,
   mmengine's progress bar with its ETA drawn here from the worker's
   iterations (:class:`~s4t_mm.engine.hooks.TrainProgressHook`);
3. source-only and every method x seed on every domain, each run on
   ``jobs`` interleaved shards of the domains (the whole stream for a
   continual table), each finished (run, domain) a line with its delta_m;
   then the synchronisation analyses, one domain per task;
4. the tables: :func:`~s4t_mm.apis.benchmark.run_benchmark` in this
   process, which finds every unit in the resume store (the same keys and
   files as its own run) and writes ``comparison.md`` and
   ``benchmark.md``; ``benchmark.md`` is printed.

With the same torch threads per process (``OMP_NUM_THREADS`` set) the
results are bitwise the one-process run's. Unset, a worker uses its share
of the cores where the one-process run uses them all, and the sums of a
convolution on another thread count round differently in the last bits
(relative 1e-8 on the tiny model), as on another machine.
"""
import itertools
import logging
import multiprocessing
import os
import os.path as osp
import queue
import sys
import time
from collections import OrderedDict
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Dict, List, Optional, Sequence

import torch
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.registry import DefaultScope
from mmengine.utils import ProgressBar

from s4t_mm.engine.hooks import TrainProgressHook
from s4t_mm.engine.runner import check_domains, domain_dataloader
from s4t_mm.evaluation.multi_task_gain import delta_m, delta_m_keys
from s4t_mm.registry import DATASETS
from s4t_mm.utils import register_all_modules
from .benchmark import (method_configs, run_benchmark, source_checkpoint,
                        source_checkpoint_ready)
from .comparison import checkpoint_labels, method_run, source_only_run
from .sync_analysis import sync_reports

#: the training's progress queue, in a worker (set by :func:`_worker_init`)
_PROGRESS = None
_CONSOLES = itertools.count()


def _worker_init(log_dir: str, progress, threads: int) -> None:
    """A worker's stdout and stderr go to ``log_dir/worker<pid>.log`` (as
    a shell's ``> log 2>&1`` would send them); torch uses ``threads``."""
    global _PROGRESS
    _PROGRESS = progress
    fd = os.open(osp.join(log_dir, f'worker{os.getpid()}.log'),
                 os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    torch.set_num_threads(threads)
    register_all_modules(init_default_scope=False)


def _report_progress(done: int, total: int) -> None:
    _PROGRESS.put((done, total))


def _render(dataset: dict) -> Optional[str]:
    """Render ``dataset`` into its cache unless it is there; its cache path
    when it rendered, else None."""
    with DefaultScope.overwrite_default_scope('s4t_mm'):
        built = DATASETS.build(dict(dataset, lazy_init=True))
        path = getattr(built, 'cache_path', None)
        if path is None or osp.exists(path):
            return None
        built.full_init()
    return path


def _train(table: Config) -> str:
    """The source training, with the worker's threads: two threads on a
    core another process also wants run an OpenMP training ten times
    slower (measured on this shared 2-core machine), one does not."""
    return source_checkpoint(table, hooks=[TrainProgressHook(
        _report_progress)])


def _evaluate(cfg_path: str, checkpoint: str, run: dict,
              domains: List[dict], out_dir: str) -> Dict[str, dict]:
    cfg = Config.fromfile(cfg_path)
    if run['method'] is None:
        return source_only_run(cfg, checkpoint, run['label'], domains,
                               run['seed'], out_dir, resume=True)
    return method_run(cfg, checkpoint, run['method'], domains, run['seed'],
                      out_dir, resume=True)


def _sync(cfg_path: str, checkpoint: str, domain: dict, name: str,
          seed: int, out_dir: str, steps: int, interval: int) -> None:
    sync_reports(Config.fromfile(cfg_path), checkpoint, [domain], seed,
                 name, out_dir, steps, interval, resume=True)


class _Console:
    """One line per stage on the terminal (an MMLogger of its own) and in
    ``work_dir/benchmark.log``, whose MMLogger is made the current one
    with its terminal handler at WARNING: whatever the parent's library
    code logs at INFO (``logger='current'``) goes to the file only."""

    def __init__(self, work_dir: str):
        # a new pair of loggers per run, the file one made the current one
        stamp = f'{time.strftime("%Y%m%d_%H%M%S")}_{next(_CONSOLES)}'
        self.terminal = MMLogger.get_instance(
            f's4t_benchmark_terminal_{stamp}', logger_name='s4t_mm')
        self.file = MMLogger.get_instance(
            f's4t_benchmark_{stamp}', logger_name='s4t_mm',
            log_file=osp.join(work_dir, 'benchmark.log'), file_mode='a')
        for handler in self.file.handlers:
            if not isinstance(handler, logging.FileHandler):
                handler.setLevel(logging.WARNING)
        self.path = osp.join(work_dir, 'benchmark.log')

    def __call__(self, message: str) -> None:
        self.terminal.info(message)
        self.file.info(message)


def _unique_datasets(datasets: Sequence[dict],
                     known: Sequence[dict] = ()) -> List[dict]:
    """``datasets`` without their pipelines (rendering does not read
    them), each once, leaving out those in ``known``."""
    unique = OrderedDict()
    for dataset in datasets:
        dataset = dict(dataset)
        dataset.pop('pipeline', None)
        unique.setdefault(repr(sorted(dataset.items())), dataset)
    for dataset in known:
        unique.pop(repr(sorted(dataset.items())), None)
    return list(unique.values())


def _training_datasets(table: Config) -> List[dict]:
    """The source training's train and val sets."""
    cfg = Config.fromfile(table.train_config)
    return _unique_datasets([cfg[key].dataset for key in (
        'train_dataloader', 'val_dataloader') if cfg.get(key)])


def _domain_datasets(table: Config, domains: Sequence[dict],
                     known: Sequence[dict]) -> List[dict]:
    """Each domain's test set, those in ``known`` left out."""
    return _unique_datasets([domain_dataloader(
        table.test_dataloader, d).dataset for d in domains], known)


def _runs(names: Sequence[str], seeds: Sequence[int],
          label: str) -> List[dict]:
    return [dict(method=None, seed=seeds[0], label=label, name='source-only')
            ] + [dict(method=n, seed=s, label=label,
                      name=n if len(seeds) == 1 else f'{n} seed {s}')
                 for n in names for s in seeds]


def _elapsed(start: float) -> str:
    return f'{time.time() - start:.0f} s'


def _draw_training(future, progress, say) -> str:
    """Wait for the training ``future``, drawing mmengine's progress bar
    from the worker's iterations (every 2 % of them; an iteration that
    saves a checkpoint counts its normalisation calibration); its
    checkpoint."""
    bar = None
    while not future.done() or not progress.empty():
        try:
            done, total = progress.get(timeout=0.5)
        except queue.Empty:
            continue
        if bar is None:
            bar = ProgressBar(total, file=sys.stdout)
        if done == total or done - bar.completed >= max(1, total // 50):
            bar.update(done - bar.completed)
    if bar is not None:
        bar.file.write('\n')
    return future.result()


def run_in_workers(table: Config, work_dir: str,
                   names: Optional[Sequence[str]] = None,
                   seeds: Optional[Sequence[int]] = None,
                   domains_key: Optional[str] = None, sync: bool = True,
                   jobs: Optional[int] = None) -> str:
    """:func:`~s4t_mm.apis.benchmark.run_benchmark` with its stages in
    ``jobs`` worker processes (default: one per CPU core, torch with an
    equal share of the cores each unless ``OMP_NUM_THREADS`` is set), one
    line per stage on the terminal, the logs in ``work_dir``; the same
    results, resume store and tables (see the module's docstring). Returns
    the text of ``benchmark.md``."""
    names = list(names or table.methods)
    seeds = list(seeds or table.seeds)
    domains_key = domains_key or table.domains_key
    domains = check_domains(table, domains_key)
    jobs = jobs or os.cpu_count() or 1
    cores = os.cpu_count() or 1
    threads = int(os.environ.get('OMP_NUM_THREADS') or
                  max(1, cores // jobs))
    # an unknown method fails here, before anything runs
    paths = method_configs(table, names, osp.join(work_dir, 'configs'))
    log_dir = osp.join(work_dir, 'logs')
    os.makedirs(log_dir, exist_ok=True)
    say = _Console(work_dir)
    start = time.time()
    say(f'[benchmark] {", ".join(names)} on {domains_key} '
        f'({len(domains)} domains), seeds {seeds}; {jobs} worker processes, '
        f'their logs in {log_dir}')
    context = multiprocessing.get_context('spawn')
    progress = context.Queue()
    train = not source_checkpoint_ready(table)
    with ProcessPoolExecutor(jobs, mp_context=context,
                             initializer=_worker_init,
                             initargs=(log_dir, progress, threads)) as pool:
        training = _training_datasets(table) if train else []
        renders = [pool.submit(_render, d) for d in
                   training + _domain_datasets(table, domains, training)]
        # the training's sets come first
        for future in renders[:len(training)]:
            _log_render(future.result(), say, start)
        if train:
            say(f'[train] {table.train_config} into '
                f'{table.source_work_dir}')
            ckpt = _draw_training(pool.submit(_train, table), progress,
                                  say)
            say(f'[train] {ckpt} ({_elapsed(start)})')
        for future in renders[len(training):]:
            _log_render(future.result(), say, start)
        ckpt = source_checkpoint(table)
        _evaluate_all(pool, table, paths, names, seeds, domains, ckpt,
                      work_dir, jobs, say, start)
        sync_names = [n for n in table.get('sync_methods', [])
                      if n in names] if sync else []
        futures = {pool.submit(
            _sync, paths[names.index(n)], ckpt, d, n, seeds[0], work_dir,
            table.sync_steps, table.sync_interval): (n, d['name'])
            for n in sync_names for d in domains}
        for future in _as_done(futures):
            future.result()
            name, domain = futures[future]
            say(f'[sync] {name} on {domain} ({_elapsed(start)})')
    text = run_benchmark(table, work_dir, names, seeds, domains_key, sync)
    say(f'{text}\ntables: {osp.join(work_dir, "benchmark.md")}, '
        f'{osp.join(work_dir, "comparison.md")}; log: {say.path}; '
        f'{_elapsed(start)} in all')
    return text


def _log_render(path: Optional[str], say, start: float) -> None:
    if path is not None:
        say(f'[render] {path} ({_elapsed(start)})')


def _as_done(futures):
    """The futures in the order they finish."""
    pending = set(futures)
    while pending:
        done, pending = wait(pending, return_when=FIRST_COMPLETED)
        yield from done


def _evaluate_all(pool, table: Config, paths: Sequence[str],
                  names: Sequence[str], seeds: Sequence[int],
                  domains: List[dict], ckpt: str, work_dir: str, jobs: int,
                  say, start: float) -> None:
    """Every run (source-only, each method x seed) on every domain in the
    pool: each run on ``jobs`` interleaved shards of the domains (a
    continual table's runs whole: their domains share one stream), so a
    worker builds one Runner per run and shard; a line per finished (run,
    domain), with its delta_m once the domain's source-only result is
    in."""
    label = checkpoint_labels([ckpt])[ckpt]
    shards = [domains] if table.get('continual', False) else \
        [domains[i::jobs] for i in range(min(jobs, len(domains)))]
    runs = _runs(names, seeds, label)
    futures = OrderedDict()
    for run in runs:
        path = paths[0] if run['method'] is None else \
            paths[names.index(run['method'])]
        for shard in shards:
            futures[pool.submit(_evaluate, path, ckpt, run, shard,
                                work_dir)] = run
    total, finished = len(runs) * len(domains), 0
    source, waiting = {}, []
    for future in _as_done(futures):
        run, results = futures[future], future.result()
        if run['method'] is None:
            source.update({d: r['metrics'] for d, r in results.items()})
        waiting += [(run, domain, result['metrics'])
                    for domain, result in results.items()]
        still = []
        for run_, domain, metrics in waiting:
            if domain not in source:
                still.append((run_, domain, metrics))
                continue
            finished += 1
            gain = '' if run_['method'] is None else \
                f': delta_m {_delta_m(metrics, source[domain])}'
            say(f'[{finished}/{total}] {run_["name"]} on {domain}{gain} '
                f'({_elapsed(start)})')
        waiting = still


def _delta_m(metrics: dict, source: dict) -> str:
    if any(v is None for v in list(metrics.values()) +
           list(source.values())):
        return 'not finite'
    return f'{delta_m(metrics, source, delta_m_keys(metrics, source)):+.2f} %'
