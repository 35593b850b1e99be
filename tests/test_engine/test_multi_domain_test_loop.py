"""One runner walks several target domains through a registered loop."""
import copy

from mmengine.runner import Runner

from s4t_mm.apis import domain_dataloader
from s4t_mm.engine import MultiDomainTestLoop
from ..test_tta.tiny_runner import TARGETS, tiny_tta_cfg


def _runner(tmp_path, loop):
    cfg = tiny_tta_cfg(tmp_path / 'work', tmp_path / 'cache', num_samples=4)
    cfg.custom_hooks = []
    cfg.test_cfg = dict(type=loop)
    return cfg, Runner.from_cfg(cfg)


def test_each_selected_domain_scores_as_its_own_runner_would(tmp_path):
    cfg, runner = _runner(tmp_path, 'MultiDomainTestLoop')
    assert isinstance(runner.test_loop, MultiDomainTestLoop)
    walked = {}
    for domain in TARGETS + TARGETS[:1]:
        runner.test_loop.select(domain_dataloader(cfg, domain))
        assert runner.test_loop.dataloader.dataset.style == \
            domain['dataset']['style']
        walked.setdefault(domain['name'], []).append(dict(runner.test()))
    assert walked['warm'][0] == walked['warm'][1]
    assert walked['warm'][0] != walked['cool'][0]
    # a plain TestLoop on the cool domain alone, same weights
    alone_cfg = copy.deepcopy(cfg)
    alone_cfg.test_cfg = dict(type='TestLoop')
    alone_cfg.test_dataloader = domain_dataloader(cfg, TARGETS[1])
    alone_cfg.experiment_name += '_alone'
    alone = Runner.from_cfg(alone_cfg)
    alone.model.load_state_dict(runner.model.state_dict())
    assert dict(alone.test()) == walked['cool'][0]
