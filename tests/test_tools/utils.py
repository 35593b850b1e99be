"""Load a script of tools/ (or of its analysis_tools/, model_converters/)
as a module, so tests call its main(argv); record which domains a run
really evaluates."""
import importlib.util
import os
import os.path as osp

from s4t_mm.engine import TestTimeAdaptLoop
from ..test_tta.tiny_runner import save_tiny_checkpoint, tiny_tta_cfg

TOOLS = osp.join(osp.dirname(__file__), '..', '..', 'tools')
SUBFOLDERS = ('', 'analysis_tools', 'model_converters')


def tool_path(name: str) -> str:
    """``tools/<name>.py`` or ``tools/analysis_tools/<name>.py``."""
    paths = [osp.join(TOOLS, sub, f'{name}.py') for sub in SUBFOLDERS]
    found = [p for p in paths if osp.isfile(p)]
    if not found:
        raise FileNotFoundError(f'no tool {name!r}; looked for {paths}')
    return found[0]


def load_tool(name: str):
    spec = importlib.util.spec_from_file_location(name, tool_path(name))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def record_evaluations(monkeypatch) -> list:
    """A list that gets the (run name, domain) of every domain evaluated
    from now on."""
    calls = []
    run_domain = TestTimeAdaptLoop.run_domain

    def recorded(loop, name, dataloader):
        # the runner appends a timestamp (YYYYmmdd_HHMMSS) to the name
        calls.append((loop.runner.experiment_name.rsplit('_', 2)[0], name))
        return run_domain(loop, name, dataloader)

    monkeypatch.setattr(TestTimeAdaptLoop, 'run_domain', recorded)
    return calls


def tiny_method_table(tmp_path, methods: dict, **extra) -> tuple:
    """A method table (``tools/benchmark_methods.py``) of ``methods`` on the
    tiny model and its two target domains, seed 0, the paper protocol with
    2 steps, its source checkpoint already in ``source_work_dir`` (no
    training); ``extra`` keys merged in. Returns (table path, checkpoint).
    """
    source_dir = tmp_path / 'source'
    os.makedirs(source_dir)
    ckpt = save_tiny_checkpoint(source_dir / 'iter_1.pth')
    (source_dir / 'last_checkpoint').write_text(ckpt)
    cfg = tiny_tta_cfg(tmp_path / 'unused', tmp_path / 'cache', steps=2)
    cfg.pop('custom_hooks')
    cfg.merge_from_dict(dict(dict(
        source_work_dir=str(source_dir), train_config='unused.py',
        domains_key='target_domains', seeds=[0],
        protocol=dict(type='paper', steps=2, num_batches=1, seed=0),
        methods=methods), **extra))
    path = str(tmp_path / 'table.py')
    cfg.dump(path)
    return path, ckpt
