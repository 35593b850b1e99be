"""Source training as a function, so the benchmark trains its source model
in its own process (``tools/train.py`` is a CLI over it)."""
from typing import Optional, Sequence

from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.runner import Runner, find_latest_checkpoint

from s4t_mm.engine.launch import enable_amp
from s4t_mm.registry import RUNNERS


def train(cfg: Config, resume: bool = False, amp: bool = False,
          hooks: Sequence[Hook] = ()) -> Optional[str]:
    """Train ``cfg`` into ``cfg.work_dir`` with its Runner (``runner_type``
    if the config names one) and return the latest checkpoint there (None
    when the config saves none).

    ``resume`` continues from the latest checkpoint in the work dir;
    ``amp`` trains in mixed precision (:func:`enable_amp`). ``hooks``
    (built hook objects, e.g. a progress report to another process) are
    registered besides the config's. ``cfg`` is changed accordingly; its
    ``launcher`` is used as it is.
    """
    if amp:
        enable_amp(cfg)
    cfg.resume = resume
    runner = RUNNERS.build(cfg) if 'runner_type' in cfg \
        else Runner.from_cfg(cfg)
    for hook in hooks:
        runner.register_hook(hook)
    runner.train()
    return find_latest_checkpoint(cfg.work_dir)
