"""The subpackages by role (issue 21): every old module path still imports, for one release, with a
``DeprecationWarning`` that names the new path, and gives the very objects of the new module; the figures that
left ``diagnostics``, ``biased`` and ``features`` answer to their old names the same way; ``import ltdd`` and
every new path import without any deprecation warning."""

from __future__ import annotations

import importlib
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

import ltdd
from ltdd._deprecated import MOVED_MODULES

ROOT = Path(__file__).resolve().parent.parent


def test_the_moves_are_the_layout_of_issue_21():
    # typed from the issue: which module went to which subpackage
    assert MOVED_MODULES == {
        "ltdd.experts": "ltdd.distill.experts", "ltdd.debias": "ltdd.distill.debias",
        **{f"ltdd.{m}": f"ltdd.studies.{m}" for m in ("biased", "rebalance", "comparison", "longtail_effect",
                                                      "tm_study", "experiments", "recorded")},
        **{f"ltdd.{m}": f"ltdd.book.{m}" for m in ("viz", "widgets", "exercises", "student", "colab",
                                                   "settings_page")},
    }
    for old, new in MOVED_MODULES.items():
        shim = ROOT / "ltdd" / f"{old.split('.')[1]}.py"
        assert len(shim.read_text().splitlines()) <= 4, shim  # a shim, not a second copy of the module
        assert (ROOT / Path(*new.split("."))).with_suffix(".py").exists() or (ROOT / Path(*new.split("."))).is_dir()


@pytest.mark.parametrize("old", sorted(MOVED_MODULES))
def test_an_old_module_path_warns_and_is_the_new_module(old, monkeypatch):
    new = importlib.import_module(MOVED_MODULES[old])
    short = old.split(".")[1]
    monkeypatch.delitem(sys.modules, old, raising=False)  # as in a fresh interpreter
    monkeypatch.delattr(ltdd, short, raising=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        namespace: dict = {}
        exec(compile(f"from ltdd import {short} as old_module", "old_user.py", "exec"), namespace)
    deprecations = [w for w in caught if issubclass(w.category, DeprecationWarning)]
    assert [str(w.message) for w in deprecations] == [
        f"{old} moved to {MOVED_MODULES[old]}; import it from there (the old path goes in the next release)"]
    assert deprecations[0].filename == "old_user.py"  # the warning points at the import, not at the shim
    assert namespace["old_module"] is new and sys.modules[old] is new
    public = [name for name in vars(new) if not name.startswith("_")]
    assert public and all(getattr(namespace["old_module"], name) is getattr(new, name) for name in public)


def test_a_name_imported_from_an_old_path_is_the_object_the_package_uses(monkeypatch):
    monkeypatch.delitem(sys.modules, "ltdd.rebalance", raising=False)
    with pytest.warns(DeprecationWarning, match="ltdd.rebalance moved to ltdd.studies.rebalance"):
        from ltdd.rebalance import RebalanceStudy, rebalance_study
    import ltdd.studies.rebalance as rebalance

    assert rebalance_study is rebalance.rebalance_study and RebalanceStudy is rebalance.RebalanceStudy
    monkeypatch.setattr("ltdd.rebalance.PAPER_HEAD_IPC", -1)  # patching the old path patches the new module
    assert rebalance.PAPER_HEAD_IPC == -1


@pytest.mark.parametrize("module, name, new", [
    ("ltdd.diagnostics", "plot_accuracy_vs_class_size", "ltdd.book.viz.diagnostics"),
    ("ltdd.diagnostics", "plot_weight_norms", "ltdd.book.viz.diagnostics"),
    ("ltdd.diagnostics", "plot_full_set_bias_sweep", "ltdd.book.viz.diagnostics"),
    ("ltdd.biased", "plot_bias_sweep_curves", "ltdd.book.viz.curves"),  # the old path of the module too
    ("ltdd.features", "plot_real_vs_synthetic", "ltdd.book.viz.features"),
])
def test_a_figure_that_left_its_module_answers_there_with_a_warning(module, name, new):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ltdd.biased, an old module path, warns too (tested above)
        old = importlib.import_module(module)
    assert name not in vars(old)  # moved, not copied
    with pytest.warns(DeprecationWarning, match=f"{old.__name__}.{name} is deprecated; use {new}.{name}"):
        value = getattr(old, name)
    target = importlib.import_module(new)
    assert value is getattr(target, name) and value.__module__ == new
    assert getattr(importlib.import_module("ltdd.book.viz"), name) is value  # and the package re-exports it


def test_the_old_viz_module_still_has_every_name_it_had(monkeypatch):
    # ltdd/viz.py's public names before the split (its __all__ and the figures and tables the chapters used)
    before = ["PROFILE_FIELDS", "SHOT_GROUP_COLORS", "OTHER_GROUP_COLOR", "BIAS_GROUP_COLORS", "ALIGNMENTS",
              "finish_figure", "palette", "show_images", "plot_per_class_accuracy", "plot_accuracy_vs_ipc",
              "markdown_table", "profile_table", "accuracy_table", "plot_class_counts", "plot_shot_groups",
              "show_image_rows", "counts_table", "plot_aligned_conflicting", "attribute_count_matrix",
              "plot_attribute_counts", "show_aligned_conflicting", "plot_colour_noise", "corruption_gallery",
              "plot_corruption_gallery", "moving_average", "plot_loss_curves", "show_image_panels",
              "plot_method_comparison"]
    monkeypatch.delitem(sys.modules, "ltdd.viz", raising=False)
    monkeypatch.delattr(ltdd, "viz", raising=False)
    with pytest.warns(DeprecationWarning, match="ltdd.viz moved to ltdd.book.viz"):
        import ltdd.viz as old_viz
    missing = [name for name in before if not hasattr(old_viz, name)]
    assert not missing, missing
    from ltdd.markdown import markdown_table

    assert old_viz.markdown_table is markdown_table


def test_import_ltdd_and_every_new_path_warns_nothing():
    """In a fresh interpreter with every warning an error: the package, every module at its new path, and the
    command line's help (which imports the study modules lazily)."""
    script = """
import importlib, pkgutil, warnings
warnings.simplefilter("error")
import ltdd
from ltdd._deprecated import MOVED_MODULES
names = [m.name for m in pkgutil.walk_packages(ltdd.__path__, "ltdd.")
         if m.name not in MOVED_MODULES and m.name != "ltdd.__main__"]
for name in names:
    importlib.import_module(name)
assert not set(MOVED_MODULES) & set(__import__("sys").modules), "a new path imported an old one"
print(len(names))
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT,
                            env={**__import__("os").environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr[-2000:]
    assert int(result.stdout.split()[-1]) > 50


def test_no_code_outside_the_shims_uses_an_old_path():
    """The package, the chapters, the tests, the benchmarks and the Sphinx extensions name only new paths (the
    shims, :mod:`ltdd._deprecated` and this test are the exceptions): no ``ltdd.biased``-style name, and no
    import, absolute or relative, that resolves to an old path."""
    import ast
    import re

    from test_import_graph import MODULES, _absolute

    shims = {ROOT / "ltdd" / f"{m.split('.')[1]}.py" for m in MOVED_MODULES}
    skip = shims | {ROOT / "ltdd" / "_deprecated.py", Path(__file__).resolve()}
    named = re.compile(r"(?<![\w./])(" + "|".join(re.escape(m) for m in MOVED_MODULES) + r")\b")
    files = [*(ROOT / "ltdd").rglob("*.py"), *(ROOT / "chapters").glob("*.py"), *(ROOT / "tests").glob("*.py"),
             *(ROOT / "benchmarks").glob("*"), *(ROOT / "_ext").glob("*.py"), *(ROOT / "reference").glob("*.md"),
             ROOT / "README.md", ROOT / "_config.yml", ROOT / "_toc.yml", ROOT / "pyproject.toml"]
    hits = [f"{path.relative_to(ROOT)}: {m.group(0)}" for path in files if path.is_file() and path not in skip
            for m in named.finditer(path.read_text())]
    importers = {path: name for name, path in MODULES.items() if path not in skip}
    for path in [*importers, *(ROOT / "chapters").glob("*.py"), *(ROOT / "tests").glob("*.py")]:
        if path in skip:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                target = _absolute(importers[path], node) if node.level else node.module or ""
                used = {target, *(f"{target}.{alias.name}" for alias in node.names)}
                hits += [f"{path.relative_to(ROOT)}:{node.lineno} {old}" for old in sorted(used & set(MOVED_MODULES))]
    assert not hits, hits[:20]
