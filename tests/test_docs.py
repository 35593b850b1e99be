"""The Python snippets of docs/*.md run, so the documentation cannot rot.

Each file's ```python blocks run in order in one namespace, in a temporary
working directory that links the repository's ``configs/`` (snippets use
paths relative to the repository root, as a reader there would). Blocks
fenced ```python no-test are shown but not run (real data, long jobs);
shell commands go in ```bash blocks. The README's tool table lists every
script of tools/, and the tools the docs run exist.
"""
import re
from pathlib import Path

import pytest
from mmengine.registry import DefaultScope, Registry

from s4t_mm import registry as s4t_registry

REPO = Path(__file__).resolve().parent.parent
DOCS = sorted((REPO / 'docs').glob('*.md'))
FENCE = re.compile(r'^```python([^\n]*)\n(.*?)^```[ \t]*$', re.M | re.S)
INFO_STRINGS = ('', 'no-test')


def python_blocks(text: str):
    """``(first line number, info string, code)`` of each python block."""
    return [(text.count('\n', 0, m.start()) + 2, m.group(1).strip(),
             m.group(2)) for m in FENCE.finditer(text)]


def test_python_blocks_are_found_with_their_line_numbers():
    text = ('intro\n```python\nx = 1\n```\n```bash\nls\n```\n'
            '```python no-test\nrun_for_a_day()\n```\n')
    assert python_blocks(text) == [(3, '', 'x = 1\n'),
                                   (9, 'no-test', 'run_for_a_day()\n')]


@pytest.fixture
def _scope_restored():
    """Snippets register new components (docs/add_a_task_head.md adds a
    task); the registries and the default scope are put back afterwards so
    that later tests see only the package's own components."""
    registries = [r for r in vars(s4t_registry).values()
                  if isinstance(r, Registry)]
    saved_modules = [(r, dict(r._module_dict)) for r in registries]
    saved = DefaultScope._instance_dict.copy()
    yield
    DefaultScope._instance_dict = saved
    for registry, modules in saved_modules:
        registry._module_dict.clear()
        registry._module_dict.update(modules)


@pytest.mark.parametrize('doc', DOCS, ids=[d.name for d in DOCS])
def test_doc_snippets_run(doc, tmp_path, monkeypatch, _scope_restored):
    blocks = python_blocks(doc.read_text())
    bad = [(line, info) for line, info, _ in blocks
           if info not in INFO_STRINGS]
    assert not bad, (f'{doc.name}: unknown python fence info {bad}; use '
                     f'one of {INFO_STRINGS}')
    runnable = [(line, code) for line, info, code in blocks if not info]
    if not runnable:
        pytest.skip(f'{doc.name} has no runnable python snippet')
    monkeypatch.chdir(tmp_path)
    (tmp_path / 'configs').symlink_to(REPO / 'configs')
    namespace = {'__name__': f'docs_{doc.stem}'}
    for line, code in runnable:
        # padded so that tracebacks give the line numbers of the .md file
        exec(compile('\n' * (line - 1) + code, str(doc), 'exec'), namespace)


#: A path of a script in tools/ (not tests/test_tools/), and one run by a
#: command line (``python tools/x.py``, ``torchrun ... 2 tools/x.py``): the
#: docs also name mmseg's own tools.
TOOL_PATH = re.compile(r'(?<![\w/])tools/[\w/]+\.(?:py|sh)')
COMMAND = re.compile(r'(?:python3?|bash|\d) (tools/[\w/]+\.(?:py|sh))')


def test_every_tool_is_in_the_readme_table_and_every_named_one_exists():
    readme = (REPO / 'README.md').read_text()
    table = readme[readme.index('Which tool for which job'):]
    table = table[:table.index('\n\n', table.index('| job |'))]
    scripts = {str(p.relative_to(REPO)) for p in (REPO / 'tools').rglob('*')
               if p.suffix in ('.py', '.sh') and p.name != '__init__.py'
               and '__pycache__' not in p.parts}
    assert sorted(scripts - set(TOOL_PATH.findall(table))) == []
    named = {REPO / 'README.md': set(TOOL_PATH.findall(readme))}
    named.update({doc: set(COMMAND.findall(doc.read_text()))
                  for doc in DOCS})
    for doc, paths in named.items():
        missing = sorted(p for p in paths if not (REPO / p).is_file())
        assert not missing, (f'{doc.name} names tools that do not exist: '
                             f'{missing}')
