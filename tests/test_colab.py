"""The Colab edition (ltdd.book.colab, colab/ in the repository): in sync with the chapters, and plain Markdown once
Jupyter renders it (nbconvert's markdown export keeps no MyST directive, role or equation label)."""

import re
from pathlib import Path

import nbformat
import pytest

from ltdd.book.colab import book_index, colab_edition, colab_markdown, colab_url

ROOT = Path(__file__).resolve().parent.parent
COMMITTED = ROOT / "colab"
EDITIONS = sorted(COMMITTED.glob("*.ipynb")) + sorted((COMMITTED / "student").glob("*.ipynb"))
LEFTOVER_MYST = re.compile(r"^(`{3,}|:{3,})\{[\w-]+\}|\{(func|class|meth|mod|data|attr|doc|numref|eq|ref|cite|term)\}`"
                           r"|^\$\$\s*\([\w-]+\)|^\([\w-]+\)=\s*$|^:(label|class):", re.M)


@pytest.fixture(scope="module")
def index():
    return book_index(ROOT)


def test_every_chapter_and_its_student_edition_are_committed():
    chapters = sorted(p.name for p in (ROOT / "chapters").glob("[0-9][0-9]_*.ipynb"))
    assert [p.name for p in sorted(COMMITTED.glob("*.ipynb"))] == chapters
    assert [p.name for p in sorted((COMMITTED / "student").glob("*.ipynb"))] == chapters


def test_the_committed_edition_is_what_the_chapters_generate(tmp_path):
    colab_edition(tmp_path, ROOT)
    stale = [str(path.relative_to(tmp_path)) for path in sorted(tmp_path.rglob("*")) if path.is_file()
             and path.read_bytes() != (COMMITTED / path.relative_to(tmp_path)).read_bytes()]
    assert not stale, f"colab/ is out of date for {stale}: run `python -m ltdd colab-edition`"


@pytest.mark.parametrize("notebook", EDITIONS, ids=lambda p: str(p.relative_to(COMMITTED)))
def test_jupyter_renders_plain_markdown(notebook):
    from nbconvert import MarkdownExporter

    markdown, _ = MarkdownExporter().from_notebook_node(nbformat.read(notebook, as_version=4))
    outside_code = re.sub(r"^```[^\n{]*\n.*?^```\s*$", "", markdown, flags=re.M | re.S)
    leftovers = sorted({m.group(0) for m in LEFTOVER_MYST.finditer(outside_code)})
    assert not leftovers, f"{notebook.name} still shows MyST: {leftovers[:5]}"
    assert "google.colab" in markdown and "ltdd @ git+" in markdown  # the set-up cell installs ltdd


def test_solutions_are_folded_in_the_edition_and_absent_from_the_student_one():
    book = (COMMITTED / "12_all_methods.ipynb").read_text()
    student = (COMMITTED / "student" / "12_all_methods.ipynb").read_text()
    assert "#### Exercise 12.1" in book and "<summary>Solution to Exercise 12.1</summary>" in book
    assert "#### Exercise 12.1" in student and "<details>" not in student and "NotImplementedError" in student


def test_numbers_are_per_chapter_in_order(index):
    assert index.numbers["fig-01-training-images"] == "1.1"
    assert index.numbers["ex-12-budgets"] == "12.1" and index.numbers["ex-12-protocol"] == "12.3"
    assert index.numbers["eq-dm-objective"].startswith("5.")


def test_roles_become_links_and_text(index):
    text = ("{func}`ltdd.studies.comparison.compare_methods`, {class}`set <ltdd.distill.base.SyntheticSet>`, "
            "{class}`~ltdd.studies.rebalance.RebalanceStudy`, {doc}`05_distribution_matching`, {cite}`dc,dm`, "
            "{numref}`fig-01-training-images`, {eq}`eq-dm-objective`, {ref}`ex-12-budgets`, {class}`torch.Tensor`")
    out = colab_markdown(text, index)
    book = index.book_url
    assert (f"[`ltdd.studies.comparison.compare_methods()`]({book}reference/api_studies.html"
            f"#ltdd.studies.comparison.compare_methods)") in out
    assert f"[`set`]({book}reference/api_distill.html#ltdd.distill.base.SyntheticSet)" in out
    assert "[`RebalanceStudy`](" in out
    assert f"]({book}chapters/05_distribution_matching.html)" in out
    assert colab_markdown("{doc}`the glossary <../reference/glossary>`", index) == (
        f"[the glossary]({book}reference/glossary.html)")
    assert "(Zhao et al., 2021; Zhao and Bilen, 2023)" in out
    assert "Fig. 1.1" in out and f"({index.numbers['eq-dm-objective']})" in out and "Exercise 12.1" in out
    assert "`torch.Tensor`" in out and "{" not in out


def test_directives_equations_and_targets(index):
    text = "\n".join(["(sec-x)=", "## Title", "", "```{admonition} Careful", ":class: warning", "", "Body line.",
                      "```", "", "$$", "a = b", "$$ (eq-dm-objective)"])
    out = colab_markdown(text, index)
    assert out.split("\n")[0] == "## Title"
    assert "> **Careful**\n>\n> Body line." in out
    assert f"a = b\n\\tag{{{index.numbers['eq-dm-objective']}}}\n$$" in out


def test_unknown_references_fail_loudly(index):
    with pytest.raises(ValueError, match="no chapter labels"):
        colab_markdown("{numref}`fig-nowhere`", index)
    with pytest.raises(ValueError, match="references.bib lacks"):
        colab_markdown("{cite}`nobody`", index)
    with pytest.raises(ValueError, match="does not know the directive"):
        colab_markdown("```{glossary}\nx\n```", index)


def test_launch_address_opens_the_edition(index):
    owner_repo = "/".join(index.repository_url.split("/")[-2:])
    assert colab_url(index, "05_distribution_matching.ipynb") == (
        f"https://colab.research.google.com/github/{owner_repo}/blob/main/colab/05_distribution_matching.ipynb")
    assert "/colab/student/" in colab_url(index, "05_distribution_matching.ipynb", student=True)


def test_the_book_launch_button_of_a_chapter_opens_its_colab_edition():
    import importlib.util

    spec = importlib.util.spec_from_file_location("ltdd_sphinx_fixes", ROOT / "_ext" / "ltdd_sphinx_fixes.py")
    fixes = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fixes)
    # The structure sphinx-book-theme 1.x's add_launch_buttons puts in the page context.
    url = "https://colab.research.google.com/github/o/r/blob/main/chapters/05_distribution_matching.ipynb"
    context = {"header_buttons": [{"type": "group", "label": "launch-buttons",
                                   "buttons": [{"type": "link", "text": "Colab", "url": url}]}]}
    fixes._colab_opens_the_colab_edition(None, "chapters/05_distribution_matching", "page.html", context, None)
    assert context["header_buttons"][0]["buttons"][0]["url"] == url.replace("/chapters/", "/colab/")
    other = {"header_buttons": [{"label": "launch-buttons", "buttons": [{"text": "Colab", "url": url}]}]}
    fixes._colab_opens_the_colab_edition(None, "reference/glossary", "page.html", other, None)
    assert other["header_buttons"][0]["buttons"][0]["url"] == url  # only chapter pages have a Colab edition


def test_keep_on_drive_links_the_folders_and_refuses_to_overwrite(tmp_path):
    from ltdd.book.colab import keep_on_drive

    mounted = []
    work, drive = tmp_path / "content", tmp_path / "drive"
    (work / "runs").mkdir(parents=True)  # an empty runs/ is replaced by the link
    places = keep_on_drive(workdir=work, mount_point=drive, mount=mounted.append)
    assert mounted == [str(drive)]
    for folder in ("runs", "data/cache"):
        assert (work / folder).is_symlink() and (work / folder).resolve() == (drive / "MyDrive/ltdd" / folder).resolve()
        assert places[folder] == drive / "MyDrive/ltdd" / folder
    (work / "runs" / "compare-gpu.json").write_text("{}")  # lands on Drive, and a second call keeps it
    keep_on_drive(workdir=work, mount_point=drive, mount=mounted.append)
    assert (drive / "MyDrive/ltdd/runs/compare-gpu.json").is_file()
    other = tmp_path / "other"
    (other / "runs").mkdir(parents=True)
    (other / "runs" / "mine.json").write_text("{}")
    with pytest.raises(ValueError, match="holds files"):
        keep_on_drive(folders=("runs",), workdir=other, mount_point=drive, mount=mounted.append)
    assert (other / "runs" / "mine.json").is_file()


def test_a_fork_sets_its_repository_in_one_command(tmp_path):
    import shutil

    from ltdd.book.colab import set_repository

    book = tmp_path / "book"
    book.mkdir()
    for name in ("_config.yml", "pyproject.toml", "README.md", "references.bib"):
        shutil.copy(ROOT / name, book / name)
    shutil.copytree(ROOT / "chapters", book / "chapters", ignore=shutil.ignore_patterns("*.md"))
    shutil.copytree(ROOT / "reference", book / "reference")
    with pytest.raises(ValueError, match="url must look like"):
        set_repository("github.com/someone/fork", book)
    changed = set_repository("https://github.com/someone/fork", book)
    assert {"_config.yml", "pyproject.toml", "README.md", "chapters/12_all_methods.py",
            "chapters/12_all_methods.ipynb"} <= set(changed)
    assert "https://github.com/someone/fork" in (book / "_config.yml").read_text()
    edition = (book / "colab" / "05_distribution_matching.ipynb").read_text()
    assert "ltdd @ git+https://github.com/someone/fork" in edition and "someone.github.io/fork/" in edition


def test_bibliography_labels_are_the_citations_author_year_text(index):
    """The book's bibliography labels (pybtex style ltdd_author_year, _ext) read as its author-year citations, and
    as the Colab edition's; every label is unique."""
    import importlib.util

    from pybtex.database import parse_file
    from pybtex.plugin import find_plugin

    spec = importlib.util.spec_from_file_location("ltdd_sphinx_fixes", ROOT / "_ext" / "ltdd_sphinx_fixes.py")
    spec.loader.exec_module(importlib.util.module_from_spec(spec))  # registers the style
    entries = parse_file(str(ROOT / "references.bib")).entries
    style = find_plugin("pybtex.style.formatting", "ltdd_author_year")()
    labels = {entry.key: entry.label for entry in style.format_entries(entries.values())}
    assert len(set(labels.values())) == len(labels)
    for key, label in labels.items():
        assert label.rstrip("abc") == index.citations[key], key
    assert labels["dm"] == "Zhao and Bilen, 2023"


def test_terms_link_to_the_glossary_and_every_term_a_chapter_uses_exists(index):
    assert len(index.glossary) >= 25 and {"dm", "dsa", "mtt", "datm", "dam", "ed", "zca whitening", "nt-xent",
                                          "shot group"} <= set(index.glossary)
    out = colab_markdown("{term}`shot groups <shot group>` and {term}`bias-conflicting`", index)
    assert out == (f"[shot groups]({index.book_url}reference/glossary.html#term-Shot-group) and "
                   f"[bias-conflicting]({index.book_url}reference/glossary.html#term-Bias-conflicting)")
    used = {m.split("<")[-1].rstrip(">").strip().lower()
            for path in sorted((ROOT / "chapters").glob("*.py"))
            for m in re.findall(r"\{term\}`([^`]+)`", path.read_text())}
    assert used and not used - set(index.glossary), used - set(index.glossary)
    with pytest.raises(ValueError, match="glossary lacks"):
        colab_markdown("{term}`nothing`", index)


def test_cli_writes_the_edition_and_refuses_a_bad_repository(tmp_path, capsys):
    import json

    from ltdd.cli import main

    assert main(["colab-edition", str(tmp_path / "out")]) == 0
    written = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert len(written["colab"]) == len(written["student"]) == len(list((ROOT / "chapters").glob("[0-9][0-9]_*.ipynb")))
    assert (tmp_path / "out" / "student" / "12_all_methods.ipynb").is_file()
    assert main(["set-repository", "not-a-url"]) == 2
    assert "url must look like" in capsys.readouterr().err
