"""Imports inside s4t_mm run down one order of layers, and never in a circle.

Every ``import`` statement of every module counts, package ``__init__``
files included, and so do those inside functions (a deferred import that
dodges a cycle is still an arrow in the design). Registries import their
packages by name (``locations``), which is how registration reaches the top
without an import statement.
"""
import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / 's4t_mm'

#: The floors, from the ground up: a module may import its own package and
#: the packages of lower floors, never a sibling on its floor or anything
#: above. ``config_package`` and ``version`` stand beside the task specs;
#: the package's own ``__init__`` (what ``import s4t_mm`` sets up) may
#: import the floors up to that of ``fileio``.
LAYERS = (
    ('registry', ),
    ('tasks', 'config_package', 'version'),
    ('structures', 'utils', 'fileio'),
    ('datasets', 'models', 'evaluation'),
    ('tta', ),
    ('visualization', ),
    ('engine', ),
    ('apis', ),
    ('tools', ),
)
FLOOR = {name: i for i, names in enumerate(LAYERS) for name in names}
FLOOR[''] = FLOOR['fileio'] + 1


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix('').parts
    return '.'.join(parts[:-1] if parts[-1] == '__init__' else parts)


def import_graph():
    """``{module: {imported s4t_mm module: first line}}`` from the source."""
    modules = {module_name(p): p for p in PACKAGE.rglob('*.py')}
    graph = {}
    for name, path in modules.items():
        package = name if path.name == '__init__.py' else \
            name.rpartition('.')[0]
        edges = {}
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ''
                if node.level:
                    anchor = package.split('.')
                    anchor = anchor[:len(anchor) - node.level + 1]
                    base = '.'.join(anchor + ([base] if base else []))
                # ``from a import b``: module a.b if it is one, else a
                targets = [f'{base}.{a.name}' if f'{base}.{a.name}' in modules
                           else base for a in node.names]
            else:
                continue
            for target in targets:
                if target in modules and target != name:
                    edges.setdefault(target, node.lineno)
        graph[name] = edges
    return graph


def layer(module: str) -> str:
    """The top-level package or module of ``s4t_mm.<layer>...`` ('' for
    the package itself)."""
    parts = module.split('.')
    return parts[1] if len(parts) > 1 else ''


def violations(graph):
    """Every import against :data:`LAYERS`: ``(importer, line, imported)``.
    A module of a layer not listed is a violation too (name its floor)."""
    found = []
    for name, edges in sorted(graph.items()):
        for target, line in sorted(edges.items()):
            own, other = layer(name), layer(target)
            if own == other:
                continue
            if own not in FLOOR or other not in FLOOR or \
                    FLOOR[other] >= FLOOR[own]:
                found.append((name, line, target))
    return found


def find_cycle(graph):
    """One cycle as a list of modules, or None."""
    state, stack = {}, []

    def visit(node):
        state[node] = 'open'
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 'open':
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 'done'
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_the_checker_finds_upward_sideways_and_unknown_imports():
    graph = {
        's4t_mm.models.heads': {'s4t_mm.registry': 3, 's4t_mm.models': 4},
        's4t_mm.models.pretrained_init': {'s4t_mm.engine.checkpoint': 10},
        's4t_mm.datasets.x': {'s4t_mm.evaluation.y': 5},
        's4t_mm.engine': {'s4t_mm.tta': 1, 's4t_mm.fileio': 2},
        's4t_mm': {'s4t_mm.utils': 1, 's4t_mm.tta': 2},
        's4t_mm.attic.old': {'s4t_mm.registry': 1},
    }
    # a function-level import counts like any other
    source = 'def f():\n    from s4t_mm.apis import x\n'
    assert [n.module for n in ast.walk(ast.parse(source))
            if isinstance(n, ast.ImportFrom)] == ['s4t_mm.apis']
    assert violations(graph) == [
        ('s4t_mm', 2, 's4t_mm.tta'),
        ('s4t_mm.attic.old', 1, 's4t_mm.registry'),
        ('s4t_mm.datasets.x', 5, 's4t_mm.evaluation.y'),
        ('s4t_mm.models.pretrained_init', 10, 's4t_mm.engine.checkpoint'),
    ]


def test_the_walker_finds_a_cycle_and_resolves_relative_imports():
    assert find_cycle({'a': {'b'}, 'b': {'c'}, 'c': {'a'}}) == [
        'a', 'b', 'c', 'a']
    assert find_cycle({'a': {'b'}, 'b': set()}) is None
    graph = import_graph()
    assert 's4t_mm.registry' in graph['s4t_mm.tta.adapters.tent_adapter']
    assert 's4t_mm.tta.snapshot' in graph['s4t_mm.tta.adapters.base_adapter']


def test_every_import_runs_down_the_layers():
    found = violations(import_graph())
    assert not found, 'imports against the layers ' + ' < '.join(
        '/'.join(names) for names in LAYERS) + ':\n' + '\n'.join(
        f'  {name}:{line} imports {target}' for name, line, target in found)


def test_s4t_mm_has_no_import_cycle():
    cycle = find_cycle(import_graph())
    assert cycle is None, 'import cycle: ' + ' -> '.join(cycle)
