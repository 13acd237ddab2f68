"""The API reference and the glossary: every module of ltdd has a page, the glossary defines the issue's terms."""

from __future__ import annotations

import pkgutil
import re
from pathlib import Path

import ltdd

ROOT = Path(__file__).resolve().parent.parent
PAGES = sorted((ROOT / "reference").glob("api_*.md"))


def documented_modules() -> set[str]:
    return {m for page in PAGES for m in re.findall(r"^\.\. automodule:: (\S+)$", page.read_text(), re.M)}


def test_every_module_has_an_api_page():
    """Every module but the old paths of moved ones (:data:`ltdd._deprecated.MOVED_MODULES`): those are not
    documented, their new homes are."""
    from ltdd._deprecated import MOVED_MODULES

    modules = {m.name for m in pkgutil.walk_packages(ltdd.__path__, "ltdd.")
               if not m.name.rsplit(".", 1)[-1].startswith("_")}
    assert {"ltdd.distill.tm", "ltdd.data.zca", "ltdd.cli", "ltdd.book.viz.core", "ltdd.studies.biased"} <= modules
    assert set(MOVED_MODULES) <= modules  # the shims are still there for one release ...
    assert not set(MOVED_MODULES) & documented_modules()  # ... and not on the API pages
    modules -= set(MOVED_MODULES)
    assert modules <= documented_modules(), sorted(modules - documented_modules())
    assert set(MOVED_MODULES.values()) <= documented_modules()


def test_api_pages_skip_re_exports_and_are_in_the_toc():
    toc = (ROOT / "_toc.yml").read_text()
    for page in PAGES:
        text = page.read_text()
        assert text.count(":members:") == text.count(":ignore-module-all:") == text.count("automodule::")
        assert f"reference/{page.stem}" in toc
    assert "sphinx.ext.autodoc" in (ROOT / "_config.yml").read_text()


def test_glossary_defines_the_terms_of_the_book():
    text = (ROOT / "reference" / "glossary.md").read_text()
    terms = re.findall(r"^(\S[^\n]*)\n  ", text.split("```{glossary}")[1], re.M)
    for term in ("IPC", "Imbalance factor", "Bias ratio", "Severity", "Expert", "Trajectory", "Soft label",
                 "Shot group"):
        assert term in terms, term


def _glossary_terms() -> list[str]:
    """Every term of the glossary (several terms may share one definition: consecutive unindented lines)."""
    text = (ROOT / "reference" / "glossary.md").read_text()
    body = text.split("```{glossary}")[1].split("\n```")[0]
    return [line for line in body.splitlines() if line.strip() and not line.startswith(" ")]


def test_glossary_covers_the_vocabulary_the_issue_lists():
    terms = _glossary_terms()
    for term in ("DM", "DSA", "MTT", "DATM", "DAM", "ED", "ZCA whitening", "NT-Xent", "Shot group", "IPC",
                 "Imbalance factor", "Bias ratio", "Soft label", "Expert", "Trajectory", "Herding", "K-center",
                 "CRLT-DD plans", "IDM", "DSDM", "DC", "SimCLR", "LTDD", "CRLT-DD", "TESLA", "Synthetic set",
                 "Evaluation protocol", "Coreset", "Long-tailed data", "Bias-aligned", "Bias-conflicting"):
        assert term in terms, term
    assert len(terms) == len({t.lower() for t in terms})


TERM_ROLE = re.compile(r"\{term\}`([^`]+)`")


def test_chapters_link_terms_to_the_glossary_and_every_link_resolves():
    known = {t.lower() for t in _glossary_terms()}
    for path in sorted((ROOT / "chapters").glob("[01][0-9]_*.py")):
        roles = TERM_ROLE.findall(path.read_text())
        if path.name.startswith("00"):
            continue
        assert len(roles) >= 3, f"{path.name} links {len(roles)} glossary terms"
        for role in roles:
            target = re.search(r"<([^>]+)>$", role)
            assert (target.group(1) if target else role).lower() in known, (path.name, role)


# Modules whose public callables are still being reorganised (the command line follows the study runners, which
# moved onto ltdd.studies); every other module on the API pages names its chapter.
CHAPTER_LINKS_PENDING = {"ltdd.cli", "ltdd.book.colab", "ltdd.book.settings_page"}
CHAPTER = re.compile(r"\bchapter (\d\d)\b", re.I)


def documented_callables():
    """``(module, name, object)`` for every function and class autodoc puts on an API page: defined in the
    module (not re-exported), public, with a docstring (``:members:`` skips the undocumented)."""
    import importlib
    import inspect

    for module_name in sorted(documented_modules() - CHAPTER_LINKS_PENDING):
        module = importlib.import_module(module_name)
        for name, obj in vars(module).items():
            if (not name.startswith("_") and (inspect.isfunction(obj) or inspect.isclass(obj))
                    and obj.__module__ == module_name and obj.__doc__):
                yield module_name, name, obj


def test_every_public_callable_names_the_chapter_that_introduces_it():
    chapters = {path.name[:2] for path in (ROOT / "chapters").glob("[01][0-9]_*.py")}
    callables = list(documented_callables())
    assert len(callables) > 300 and any(name == "make_distiller" for _, name, _ in callables)
    missing = [f"{module}.{name}" for module, name, obj in callables if not CHAPTER.search(obj.__doc__)]
    assert not missing, f"{len(missing)} docstrings name no chapter: {missing[:20]}"
    unknown = [f"{module}.{name}: chapter {nn}" for module, name, obj in callables
               for nn in CHAPTER.findall(obj.__doc__) if nn not in chapters]
    assert not unknown, unknown


def test_a_docstring_that_says_a_chapter_introduces_a_name_is_right():
    """"Introduced in chapter NN" means chapter NN's code uses the name (or the old name the docstring gives,
    "as ``old``") or its text links to it."""
    chapter_text = {path.name[:2]: path.read_text() for path in (ROOT / "chapters").glob("[01][0-9]_*.py")}
    wrong = []
    for module, name, obj in documented_callables():
        names = [name, *re.findall(r"[Ii]ntroduced in chapter \d\d\s+\(as\s+``(\w+)``", obj.__doc__)]
        for nn in re.findall(r"[Ii]ntroduced in chapter (\d\d)", obj.__doc__):
            if not any(re.search(rf"\b{re.escape(n)}\b", chapter_text.get(nn, "")) for n in names):
                wrong.append(f"{module}.{name}: chapter {nn}")
    assert not wrong, wrong
