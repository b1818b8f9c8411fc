"""The package's layers (README: "How it is built") as the imports actually are: a module imports
its own layer and the layers below it, never above, so the picture in the README stays true."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "xor_lightning"
LAYERS = ("base", "core", "views", "run", "cli")  # bottom to top
# Science that is also run as a library must not need Hydra or the run's files.
FORBIDDEN = {"core": ("hydra", "omegaconf")}


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports, at the top or inside a function (lazy imports count too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            assert node.level == 0, f"{path.name}: relative import; this package imports absolutely"
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _layer_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "xor_lightning" and len(parts) > 1 and parts[1] in LAYERS else None


def test_every_module_sits_in_a_layer():
    loose = [p.name for p in PACKAGE.glob("*.py") if p.name not in ("__init__.py", "__main__.py")]
    assert not loose, f"put these in one of {LAYERS}: {loose}"
    assert sorted(p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__"
                  and p.name != "configs") == sorted(LAYERS)


@pytest.mark.parametrize("layer", LAYERS)
def test_imports_point_down(layer):
    allowed = set(LAYERS[: LAYERS.index(layer) + 1])
    wrong = []
    for path in sorted((PACKAGE / layer).glob("*.py")):
        for module in _imports(path):
            target = _layer_of(module)
            if target is not None and target not in allowed:
                wrong.append(f"{layer}/{path.name} imports {module}")
            if module.split(".")[0] in FORBIDDEN.get(layer, ()):
                wrong.append(f"{layer}/{path.name} imports {module}")
    assert not wrong, "imports must point down (" + " < ".join(LAYERS) + "): " + "; ".join(wrong)


def test_the_check_sees_a_wrong_import(tmp_path):
    """The parser above finds lazy imports, so a violation cannot hide inside a function."""
    source = tmp_path / "m.py"
    source.write_text("def f():\n    from xor_lightning.cli.main import main\n")
    assert _layer_of(next(m for m in _imports(source) if m.endswith("main"))) == "cli"


def _module_graph(layer: str) -> dict[str, set[str]]:
    """``layer``'s modules and the modules of the same layer each imports (lazy imports included)."""
    names = {p.stem for p in (PACKAGE / layer).glob("*.py") if p.stem != "__init__"}
    prefix = f"xor_lightning.{layer}."
    graph = {}
    for name in names:
        found = {m[len(prefix):].split(".")[0] for m in _imports(PACKAGE / layer / f"{name}.py") if m.startswith(prefix)}
        graph[name] = (found & names) - {name}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle in ``graph`` (as the path that closes it), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt):], nxt]
            if nxt not in state and (found := visit(nxt, [*path, nxt])):
                return found
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start, [start])):
            return found
    return None


@pytest.mark.parametrize("layer", LAYERS)
def test_no_import_circle_inside_a_layer(layer):
    """Within a layer, too, imports form no circle (a lazy import that closes one still counts)."""
    circle = _cycle(_module_graph(layer))
    assert circle is None, f"{layer}/: " + " -> ".join(circle)


def test_the_circle_check_sees_a_circle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None
