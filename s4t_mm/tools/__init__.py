"""The repository's ``tools/`` scripts, run from the installed package.

setup.py puts ``tools/`` into the package as ``s4t_mm/.mim/tools`` (a copy
in a wheel, a link in an editable install). ``python -m
s4t_mm.tools.test_time_adapt CONFIG ...`` runs that copy of
``tools/test_time_adapt.py`` with the same flags, as ``python
tools/test_time_adapt.py CONFIG ...`` would from a checkout;
``python -m s4t_mm.tools NAME ...`` runs any of them
(e.g. ``analysis_tools/analyze_sync``).
"""
import os
import os.path as osp
import runpy
import sys
from typing import List, Optional

#: Where setup.py puts ``tools/`` inside the package.
TOOLS_DIR = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), '.mim',
                     'tools')


def packaged_tools() -> List[str]:
    """The tools in the package, as ``python -m s4t_mm.tools`` names them."""
    names = []
    for root, _, files in sorted(os.walk(TOOLS_DIR, followlinks=True)):
        names += sorted(
            osp.relpath(osp.join(root, f), TOOLS_DIR)[:-len('.py')]
            for f in files if f.endswith('.py') and f != '__init__.py')
    return names


def run_packaged_tool(name: str, argv: Optional[List[str]] = None) -> None:
    """Run ``tools/<name>.py`` of the package as a script, with ``argv``
    (default: this process's arguments) as its command line."""
    path = osp.join(TOOLS_DIR, f'{name}.py')
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'no tool {name!r} in {TOOLS_DIR} (the package is installed '
            'without setup.py\'s .mim files, or the name is wrong); '
            f'packaged tools: {packaged_tools()}')
    sys.argv = [path] + list(sys.argv[1:] if argv is None else argv)
    # as `python tools/<name>.py`: the script's folder comes first
    sys.path.insert(0, osp.dirname(path))
    runpy.run_path(path, run_name='__main__')
