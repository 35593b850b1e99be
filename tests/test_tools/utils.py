"""Load a script of tools/ as a module, so tests call its main(argv)."""
import importlib.util
import os.path as osp

TOOLS = osp.join(osp.dirname(__file__), '..', '..', 'tools')


def load_tool(name: str):
    spec = importlib.util.spec_from_file_location(
        name, osp.join(TOOLS, f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
