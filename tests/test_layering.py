"""The import direction the architecture promises: events -> ingest/store -> graph/sql/spark_local/aws_targets ->
server/simulator/testing -> cli. A module may import its own layer and those below it, never one above; ingest/ reads
and prepares without knowing the store; and no two modules import each other, even lazily."""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

SRC = Path(__file__).resolve().parents[1] / "src" / "lineagelab"

#: Top-level package (or module) of lineagelab -> its layer; lower layers never import higher ones.
LAYERS: dict[str, int] = {
    "events": 0, "profile": 0,
    "ingest": 1, "store": 1,
    "graph": 2, "sql": 2, "spark_local": 2, "aws_targets": 2,
    "server": 3, "simulator": 3, "testing": 3,
    "cli": 4, "__main__": 4,
}
#: Imports forbidden although the layers allow them.
FORBIDDEN = {("ingest", "store")}


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, name: str) -> set[str]:
    """Every lineagelab module ``path`` imports, at module level or inside functions (lazy imports count too)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("lineagelab"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            if module.startswith("lineagelab"):
                found.add(module)
                found.update(f"{module}.{a.name}" for a in node.names)  # `from pkg import module`
    return found


def _graph() -> nx.DiGraph:
    modules = {_module_name(p): p for p in SRC.rglob("*.py") if "seed" not in p.relative_to(SRC).parts}
    graph = nx.DiGraph()
    graph.add_nodes_from(modules)
    for name, path in modules.items():
        for target in _imports(path, name):
            if target in modules and target != name:
                graph.add_edge(name, target)
    return graph


def _top(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_layers_are_known() -> None:
    tops = {_top(m) for m in _graph()} - {""}
    assert tops <= set(LAYERS), f"packages without a layer: {sorted(tops - set(LAYERS))}"


def test_no_import_goes_up_the_chain() -> None:
    wrong = []
    for source, target in _graph().edges:
        a, b = _top(source), _top(target)
        if not a or not b:
            continue
        if LAYERS[b] > LAYERS[a] or (a, b) in FORBIDDEN:
            wrong.append(f"{source} imports {target}")
    assert not wrong, "imports against the data flow:\n" + "\n".join(sorted(wrong))


def test_no_modules_import_each_other() -> None:
    graph = _graph()
    # a package's __init__ importing its own modules is how packages expose names, not a cycle between concepts
    graph.remove_edges_from([(s, t) for s, t in list(graph.edges) if t.startswith(s + ".") or s.startswith(t + ".")])
    cycles = sorted(" -> ".join([*c, c[0]]) for c in nx.simple_cycles(graph))
    assert not cycles, "modules importing each other:\n" + "\n".join(cycles)
