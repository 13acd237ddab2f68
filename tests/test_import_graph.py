"""The modules of ltdd import each other without a cycle (top-level imports only: a function-level import is a
deliberate delay, e.g. of matplotlib or of a study, and is not counted). A cycle shows up as a module that
works only when another was imported first; this test names the modules on it."""

from __future__ import annotations

import ast
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "ltdd"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def _absolute(importer: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = importer if MODULES[importer].name == "__init__.py" else importer.rsplit(".", 1)[0]
    base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
    return f"{base}.{node.module}" if node.module else base


def _with_parents(importer: str, target: str) -> set[str]:
    """``target`` and every package above it that importing it runs (its ``__init__``), except the packages
    that hold ``importer``: they are already running when ``importer`` runs."""
    own = {importer.rsplit(".", k)[0] for k in range(importer.count(".") + 1)}
    parts = target.split(".")
    names = {".".join(parts[:k]) for k in range(1, len(parts) + 1)}
    return {n for n in names if n in MODULES and n not in own}


def top_level_imports(name: str) -> set[str]:
    """The ltdd modules ``name`` imports at module level (inside ``if`` / ``try`` blocks too, not in functions,
    classes or ``if TYPE_CHECKING:``)."""
    found: set[str] = set()

    def visit(statements):
        for node in statements:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                visit(node.orelse)
            elif isinstance(node, (ast.If, ast.Try)):
                visit(node.body)
                visit(node.orelse)
                visit(getattr(node, "handlers", []) and [s for h in node.handlers for s in h.body])
                visit(getattr(node, "finalbody", []))
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    found.update(_with_parents(name, alias.name))
            elif isinstance(node, ast.ImportFrom):
                target = _absolute(name, node)
                found.update(_with_parents(name, target))
                for alias in node.names:  # "from . import files" imports the module ltdd.files
                    found.update(_with_parents(name, f"{target}.{alias.name}"))

    visit(ast.parse(MODULES[name].read_text()).body)
    found.discard(name)
    return found


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a list of nodes (first = last), or None when it is acyclic."""
    state: dict[str, str] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_graph_reader_sees_a_cycle_when_there_is_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None
    assert {"ltdd.distill.experts", "ltdd.checks"} <= top_level_imports("ltdd.distill.tm")
    assert "ltdd.distill" in top_level_imports("ltdd.studies.biased")  # the package's __init__ runs too


def test_ltdd_has_no_import_cycle():
    graph = {name: top_level_imports(name) for name in MODULES}
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))


def every_import(name: str) -> set[str]:
    """The ltdd modules ``name`` imports anywhere, function-level imports included."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(MODULES[name].read_text())):
        if isinstance(node, ast.ImportFrom):
            found.add(_absolute(name, node))
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_the_data_layer_does_not_import_the_methods_even_inside_a_function():
    """data/ sits below distill/: its cache once borrowed the atomic writer from distill/base.py."""
    for name in MODULES:
        if name.startswith("ltdd.data"):
            assert not {m for m in every_import(name) if m.startswith("ltdd.distill")}, name


@pytest.mark.parametrize("module, name, new", [
    ("ltdd.distill.base", "atomic_save", "ltdd.files"),
    ("ltdd.distill.base", "atomic_write_text", "ltdd.files"),
    ("ltdd.distill.base", "settings_mismatch", "ltdd.files"),
    ("ltdd.distill", "atomic_save", "ltdd.files"),
])
def test_moved_names_still_import_with_a_deprecation_warning(module, name, new):
    import importlib

    old = importlib.import_module(module)
    with pytest.warns(DeprecationWarning, match=f"use {new}.{name}"):
        value = getattr(old, name)
    assert value is getattr(importlib.import_module(new), name)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(AttributeError):
            getattr(old, "no_such_name")


def test_renamed_functions_answer_to_their_old_names_with_a_warning():
    import torch

    from ltdd import diagnostics, train
    from ltdd.data import LabeledImages

    split = LabeledImages(torch.zeros(4, 1, 2, 2), torch.tensor([0, 1, 1, 1]))
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 2))
    torch.nn.init.zeros_(model[1].weight)
    with torch.no_grad():
        model[1].bias.copy_(torch.tensor([0.0, 1.0]))  # always class 1
    with pytest.warns(DeprecationWarning, match="ltdd.train.evaluate is deprecated; use ltdd.train.network_accuracy"):
        old = train.evaluate(model, split, 2)
    assert old.overall == train.network_accuracy(model, split, 2).overall == 0.75
    alias = diagnostics.bias_ratio_sweep
    assert alias.__name__ == "bias_ratio_sweep" and alias.__module__ == "ltdd.diagnostics"
    assert "ltdd.diagnostics.full_set_bias_sweep" in alias.__doc__
    with pytest.warns(DeprecationWarning, match="use ltdd.diagnostics.full_set_bias_sweep"):
        with pytest.raises(ValueError):
            alias("digits", [0.5, 0.5])
    # the figure's old name moved with the figure into the book's package, and forwards there
    from ltdd.book.viz.diagnostics import plot_full_set_bias_sweep

    with pytest.warns(DeprecationWarning, match="use ltdd.book.viz.diagnostics.plot_full_set_bias_sweep"):
        assert diagnostics.plot_bias_sweep is plot_full_set_bias_sweep


def test_no_two_modules_define_public_functions_of_one_name():
    """``evaluate`` once meant two things (a network's accuracy, a synthetic set's evaluation); a deprecated
    alias (documented as such) and the re-exports of a package's ``__init__`` are not definitions."""
    owners: dict[str, list[str]] = {}
    for name, path in MODULES.items():
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and not node.name.startswith("_"):
                owners.setdefault(node.name, []).append(name)
    clashes = {n: m for n, m in owners.items() if len(m) > 1}
    assert not clashes, clashes
