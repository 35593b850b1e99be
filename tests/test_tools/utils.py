"""Load a script of tools/ (or of its analysis_tools/, model_converters/)
as a module, so tests call its main(argv); record which domains a run
really evaluates."""
import importlib.util
import os.path as osp

from s4t_mm.engine import TestTimeAdaptLoop

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
