"""Imports inside s4t_mm run one way: no module reaches itself again.

Every ``import`` statement of every module counts, also those inside
functions (a deferred import that dodges a cycle is still a cycle in the
design). Registries import their packages by name (``locations``), which
is how registration reaches the top without an import statement.
"""
import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / 's4t_mm'


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix('').parts
    return '.'.join(parts[:-1] if parts[-1] == '__init__' else parts)


def import_graph():
    """``{module: {imported s4t_mm modules}}`` from the source."""
    modules = {module_name(p): p for p in PACKAGE.rglob('*.py')}
    graph = {}
    for name, path in modules.items():
        package = name if path.name == '__init__.py' else \
            name.rpartition('.')[0]
        edges = set()
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
            edges |= {t for t in targets if t in modules and t != name}
        graph[name] = edges
    return graph


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


def test_the_walker_finds_a_cycle_and_resolves_relative_imports():
    assert find_cycle({'a': {'b'}, 'b': {'c'}, 'c': {'a'}}) == [
        'a', 'b', 'c', 'a']
    assert find_cycle({'a': {'b'}, 'b': set()}) is None
    graph = import_graph()
    assert 's4t_mm.registry' in graph['s4t_mm.tta.adapters.tent_adapter']
    assert 's4t_mm.tta.snapshot' in graph['s4t_mm.tta.adapters.base_adapter']


def test_s4t_mm_has_no_import_cycle():
    cycle = find_cycle(import_graph())
    assert cycle is None, 'import cycle: ' + ' -> '.join(cycle)


def test_task_specs_import_only_the_registry():
    """Structures-level code reads the task specs, so ``s4t_mm.tasks`` sits
    below structures: it imports nothing of s4t_mm but the registry."""
    graph = import_graph()
    for name, edges in graph.items():
        if name.split('.')[:2] == ['s4t_mm', 'tasks']:
            above = sorted(e for e in edges if e != 's4t_mm.registry' and
                           e.split('.')[:2] != ['s4t_mm', 'tasks'])
            assert not above, f'{name} imports {above}'
