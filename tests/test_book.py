"""The book's structure, checked without building it: jupytext pairs, stripped notebooks, the table of
contents, the configuration traps of Jupyter Book 1.x, one repository URL everywhere, citations that
resolve, and the figure helpers the chapters call. Everything here runs in a few seconds.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from book_toc import toc_files

yaml = pytest.importorskip("yaml")
jupytext = pytest.importorskip("jupytext")

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = ROOT / "chapters"
NOTEBOOKS = sorted(CHAPTERS.glob("*.ipynb"))
TWINS = sorted(CHAPTERS.glob("*.py"))
CITE_ROLE = re.compile(r"\{cite(?::[a-z]+)?\}`([^`]+)`")
BIB_ENTRY = re.compile(r"^@(\w+)\s*\{\s*([^,\s]+)\s*,", re.MULTILINE)
COLAB_INSTALL = re.compile(r'"ltdd @ git\+(?P<url>[^"]+)"')


def _config() -> dict:
    return yaml.safe_load((ROOT / "_config.yml").read_text())


def _toc() -> dict:
    return yaml.safe_load((ROOT / "_toc.yml").read_text())


def _repository_url() -> str:
    return _config()["repository"]["url"]


def _source_for(entry: str) -> Path | None:
    path = ROOT / entry
    if path.suffix in {".md", ".ipynb"} and path.is_file():
        return path
    for suffix in (".ipynb", ".md"):
        if path.with_suffix(suffix).is_file():
            return path.with_suffix(suffix)
    return None


def _bib_keys() -> set[str]:
    return {key for _kind, key in BIB_ENTRY.findall((ROOT / "references.bib").read_text())}


def test_chapters_exist():
    assert NOTEBOOKS, "chapters/ holds no notebook"


# ------------------------------------------------------------------------------------------ jupytext
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_matches_its_py_twin(notebook: Path):
    twin = notebook.with_suffix(".py")
    assert twin.is_file(), f"{notebook.name} has no jupytext twin {twin.name}"
    regenerated = jupytext.writes(jupytext.read(notebook), fmt="py:percent")
    assert regenerated == twin.read_text(), (
        f"{notebook.name} and {twin.name} differ; the .py is the truth: run "
        f"`jupytext --to ipynb --update chapters/{twin.name}`")


@pytest.mark.parametrize("twin", TWINS, ids=lambda p: p.name)
def test_py_twin_has_a_notebook(twin: Path):
    assert twin.with_suffix(".ipynb").is_file(), (
        f"{twin.name} has no notebook: run `jupytext --to ipynb chapters/{twin.name}`")


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_stripped(notebook: Path):
    raw = json.loads(notebook.read_text())
    for index, cell in enumerate(raw["cells"]):
        if cell["cell_type"] != "code":
            continue
        assert cell.get("outputs") == [], f"{notebook.name} cell {index} carries outputs"
        assert cell.get("execution_count") is None, f"{notebook.name} cell {index} has an execution count"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_kernel_and_colab_cell(notebook: Path):
    raw = json.loads(notebook.read_text())
    assert raw["metadata"].get("kernelspec", {}).get("name") == "python3", (
        f"{notebook.name}: kernelspec must be python3 (nbmake and the book build start that kernel)")
    code = [cell for cell in raw["cells"] if cell["cell_type"] == "code"]
    assert code, f"{notebook.name} has no code cell"
    first = code[0]
    source = "".join(first["source"])
    assert "google.colab" in source and COLAB_INSTALL.search(source), (
        f"{notebook.name}: the first code cell must be the Colab set-up cell")
    assert "remove-cell" in first.get("metadata", {}).get("tags", []), (
        f"{notebook.name}: the Colab set-up cell must be tagged remove-cell")


# ------------------------------------------------------------------------------ table of contents
def test_toc_entries_exist():
    toc = _toc()
    assert toc.get("format") == "jb-book"
    entries = toc_files(toc)
    assert entries and entries[0] == toc["root"]
    missing = [entry for entry in entries if _source_for(entry) is None]
    assert not missing, f"_toc.yml lists files that do not exist: {missing}"
    assert len(entries) == len(set(entries)), "_toc.yml lists a file twice"


def test_every_chapter_notebook_is_in_the_toc():
    listed = {_source_for(entry) for entry in toc_files(_toc())}
    orphans = [nb.name for nb in NOTEBOOKS if nb not in listed]
    assert not orphans, f"notebooks missing from _toc.yml (not built, only_build_toc_files): {orphans}"


# ---------------------------------------------------------------------------------- configuration
def test_config_avoids_the_jupyter_book_1_traps():
    config = _config()
    execute = config.get("execute", {})
    assert execute.get("execute_notebooks") in {"force", "cache", "off"}, (
        "execute_notebooks must be force, cache or off; 'auto' (the default) re-runs notebooks silently")
    assert "auto" not in re.findall(r"execute_notebooks:\s*(\S+)", (ROOT / "_config.yml").read_text())
    assert config["repository"]["branch"] == "main", "repository.branch defaults to master"
    assert config["sphinx"]["recursive_update"] is True, (
        "without sphinx.recursive_update, sphinx.config.html_theme_options replaces the theme options")
    assert config.get("only_build_toc_files") is True
    assert "use_download_button" not in config.get("html", {}), "html.use_download_button is ignored by JB1"
    assert "intersphinx_mapping" not in json.dumps(config), "intersphinx needs the network"
    assert "references.bib" in config.get("bibtex_bibfiles", [])
    assert "sphinx_exercise" in config["sphinx"].get("extra_extensions", [])
    extensions = config["parse"]["myst_enable_extensions"]
    assert {"amsmath", "dollarmath", "colon_fence"} <= set(extensions)


def test_chapter_twins_are_excluded_from_the_build():
    patterns = _config().get("exclude_patterns", [])
    assert any(p.endswith("*.py") for p in patterns), "exclude the .py twins (same stem as the .ipynb)"


# ------------------------------------------------------------------------------- repository URL
GITHUB_URL = re.compile(r"https?://(?:www\.)?github\.com/([\w.-]+)/([\w.-]+)", re.IGNORECASE)


def _mentions_of_repository(text: str, url: str) -> set[str]:
    """Every ``https://github.com/OWNER/REPO`` in ``text`` naming the book's repository, as spelled."""
    owner, repo = url.rstrip("/").split("/")[-2:]
    return {m.group(0) for m in GITHUB_URL.finditer(text)
            if m.group(1).lower() == owner.lower() and m.group(2).lower().removesuffix(".git") == repo.lower()}


def test_repository_url_is_canonical():
    url = _repository_url()
    assert re.fullmatch(r"https://github\.com/[\w.-]+/[\w-]+", url), f"repository.url {url!r} is not canonical"
    assert _config()["launch_buttons"]["colab_url"] == "https://colab.research.google.com"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_colab_cell_installs_from_the_repository(notebook: Path):
    url = _repository_url()
    cells = json.loads(notebook.read_text())["cells"]
    texts = {notebook.name: "\n".join("".join(cell["source"]) for cell in cells),
             notebook.with_suffix(".py").name: notebook.with_suffix(".py").read_text()}
    for name, text in texts.items():
        found = {m["url"] for m in COLAB_INSTALL.finditer(text)}
        assert found == {url}, f"{name} installs ltdd from {found}, _config.yml says {url}"


def test_repository_url_is_spelled_the_same_everywhere():
    url = _repository_url()
    files = [ROOT / "_config.yml", ROOT / "pyproject.toml", *sorted(CHAPTERS.glob("*"))]
    files += [ROOT / "README.md"] if (ROOT / "README.md").is_file() else []
    for path in files:
        if path.is_file() and path.suffix in {".md", ".py", ".ipynb", ".yml", ".toml"}:
            spellings = _mentions_of_repository(path.read_text(), url)
            assert spellings <= {url}, f"{path.name} spells the repository {spellings - {url}}, not {url}"


def test_pyproject_urls_name_the_repository():
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        tomllib = pytest.importorskip("tomli")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    urls = set(project.get("urls", {}).values())
    assert _repository_url() in urls, f"pyproject.toml [project.urls] {urls} lacks {_repository_url()}"


def test_readme_names_the_repository():
    readme = ROOT / "README.md"
    if not readme.is_file():
        pytest.skip("README.md does not exist yet")
    assert _repository_url() in readme.read_text(), f"README.md never mentions {_repository_url()}"


# ------------------------------------------------------------------------------------ citations
def test_bibliography_keys_are_unique():
    keys = [key for _kind, key in BIB_ENTRY.findall((ROOT / "references.bib").read_text())]
    duplicates = sorted({k for k in keys if keys.count(k) > 1})
    assert not duplicates, f"references.bib defines these keys twice: {duplicates}"


def test_every_cited_key_is_in_the_bibliography():
    keys = _bib_keys()
    sources = [*CHAPTERS.glob("*.md"), *CHAPTERS.glob("*.ipynb"), *CHAPTERS.glob("*.py")]
    missing = {}
    for path in sources:
        for group in CITE_ROLE.findall(path.read_text()):
            for key in (k.strip() for k in group.split(",")):
                if key not in keys:
                    missing.setdefault(path.name, set()).add(key)
    assert not missing, f"cited but not in references.bib: {missing}"


def test_seed_papers_and_classics_are_in_the_bibliography():
    expected = {"dm", "dc", "dsa", "mtt", "datm", "idm", "dsdm", "biaseddd", "ltdd", "crltdd", "simclr",
                "hendrycks2019", "lff", "ldam"}
    assert expected <= _bib_keys(), f"missing: {sorted(expected - _bib_keys())}"


def test_one_bibliography_directive():
    """sphinxcontrib-bibtex warns (and -W fails) when a key is listed by two bibliography directives."""
    sources = [*CHAPTERS.glob("*.md"), *CHAPTERS.glob("*.ipynb")]
    count = sum(path.read_text().count("{bibliography}") for path in sources)
    assert count == 1, f"expected one {{bibliography}} directive in chapters/, found {count}"


# ----------------------------------------------------------------------------- figure helpers
@pytest.fixture(scope="module")
def digits():
    from ltdd.data import load_dataset

    return load_dataset("digits", device="cpu")


def _report(accuracies: list[float], classes: int = 10, train_size: int = 50):
    from ltdd.train import EvaluationReport

    runs = [[a] * classes for a in accuracies]
    return EvaluationReport("convnet", 2, list(range(len(accuracies))), accuracies, runs, train_size)


def test_viz_figures_are_returned_closed(digits):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    from ltdd.distill import make_distiller
    from ltdd.book.viz import plot_accuracy_vs_ipc, plot_per_class_accuracy, show_images

    subset = make_distiller("random", digits, seed=0, ipc=3).run(0, progress=False)
    before = set(plt.get_fignums())
    reports = {"full": _report([0.9], train_size=1258), "random": _report([0.5, 0.6])}
    figures = [
        show_images(subset.images, subset.labels, digits, per_class=3, title="random"),
        plot_per_class_accuracy(reports, digits.class_names),
        plot_accuracy_vs_ipc({"random": {1: reports["random"], 10: reports["random"]}}, full=reports["full"]),
    ]
    assert all(isinstance(fig, Figure) for fig in figures)
    assert set(plt.get_fignums()) == before, "viz functions must close their figures in pyplot"
    legend = [text.get_text() for text in figures[1].legends[0].get_texts()]
    assert legend == ["full: 90.0 %", "random: 55.0 ± 5.0 %"]  # one network has no spread to show
    rows, columns = figures[0].axes[0].get_gridspec().get_geometry()
    assert (rows, columns) == (digits.num_classes, 3)
    some = show_images(digits.train.images, digits.train.labels, digits, per_class=2, classes=[3, 8])
    assert some.axes[0].get_gridspec().get_geometry() == (2, 2)
    assert [ax.get_ylabel() for ax in some.axes[::2]] == ["3", "8"]


def test_viz_rejects_bad_input(digits):
    from ltdd.book.viz import plot_accuracy_vs_ipc, plot_per_class_accuracy, show_images

    with pytest.raises(ValueError, match="images"):
        show_images(digits.train.images[0], digits.train.labels[:1], digits)
    with pytest.raises(ValueError, match="per_class"):
        show_images(digits.train.images[:5], digits.train.labels[:5], digits, per_class=0)
    with pytest.raises(ValueError, match="classes"):
        show_images(digits.train.images[:5], digits.train.labels[:5], digits, classes=[10])
    with pytest.raises(ValueError, match="classes"):
        plot_per_class_accuracy({"r": _report([0.5], classes=3)}, digits.class_names)
    with pytest.raises(ValueError, match="curves"):
        plot_accuracy_vs_ipc({})


def test_profile_and_accuracy_tables():
    from ltdd.config import PROFILES
    from ltdd.book.viz import accuracy_table, profile_table

    table = profile_table(highlight="cpu").splitlines()
    assert table[0].count("|") == len(PROFILES) + 2 and "**cpu** (active)" in table[0]
    assert any(line.startswith("| `eval_epochs` |") for line in table)
    with pytest.raises(ValueError, match="not Profile fields"):
        profile_table(fields=["epochs"])
    rows = accuracy_table({"random": _report([0.5, 0.6])}).splitlines()
    assert rows[2] == "| random | 55.0 ± 5.0 | 2 | 2 | 50 |"
    one = _report([0.5])  # one network has no spread: no "± 0.0", and the report says so in words
    assert accuracy_table({"random": one}).splitlines()[2] == "| random | 50.0 | 1 | 2 | 50 |"
    assert "±" not in str(one) and "one network" in str(one) and "1 networks" not in str(one)
    assert str(_report([0.5, 0.6])).startswith("convnet: 55.00 ± 5.00 % over 2 networks")


def test_show_images_handles_colour_and_soft_labels():
    import torch

    from ltdd.data import ImageDataset, LabeledImages
    from ltdd.book.viz import show_images

    images = torch.randn(6, 3, 8, 8)
    labels = torch.tensor([0, 1, 2, 0, 1, 2])
    split = LabeledImages(images, labels)
    colour = ImageDataset("tiny", split, split, ["a", "b", "c"], (0.5, 0.5, 0.5), (0.2, 0.2, 0.2))
    soft = torch.nn.functional.one_hot(labels, 3).float()
    fig = show_images(images, soft, colour, per_class=5)
    assert fig.axes[0].get_gridspec().get_geometry() == (3, 2)
    assert fig.axes[0].get_images()[0].get_array().shape == (8, 8, 3)


def test_figures_equations_and_exercises_are_numbered_per_chapter():
    """Issue 19: "Fig. 5.2", not a count across the book. Only the chapters' parts are numbered, one level deep,
    and the count runs on from part to part (Jupyter Book's use_multitoc_numbering), so 01 is chapter 1 and 12 is
    chapter 12, the numbers of the file names and of the Colab edition; Sphinx puts the chapter's number before
    every figure, equation and exercise number."""
    toc = _toc()
    numbered = [part for part in toc["parts"] if part.get("numbered")]
    assert numbered and all(part["numbered"] == 1 for part in numbered)
    files = [entry["file"] for part in numbered for entry in part["chapters"]]
    assert [int(Path(f).name[:2]) for f in files] == list(range(1, len(files) + 1))
    assert all(Path(entry).name[:2] == "00" or entry.startswith("reference/") or entry == toc["root"]
               for entry in toc_files(toc) if entry not in files)
    assert _config()["html"].get("use_multitoc_numbering", True) is True, (
        "without use_multitoc_numbering every numbered part would start again at chapter 1")
    config = _config()["sphinx"]["config"]
    assert config["numfig_secnum_depth"] == 1 and config["math_numfig"] is True


def test_chapters_are_grouped_in_captioned_parts():
    """Issue 21: the chapters in parts by subject, between the unnumbered Start and Reference parts."""
    captions = [part["caption"] for part in _toc()["parts"]]
    assert captions == ["Start", "Foundations", "Distribution matching", "Bias", "Long tails",
                        "Trajectory matching", "Comparison", "Reference"]
    reference = _toc()["parts"][-1]
    assert not reference.get("numbered")
    assert {"reference/settings", "reference/api"} <= set(toc_files(reference))


# ------------------------------------------------------------------------------- code line length
CODE_LINE_LIMIT = 88  # issue 21: longer lines overflow the rendered page and the PDF


@pytest.mark.parametrize("twin", TWINS, ids=lambda p: p.name)
def test_chapter_code_lines_fit_the_page(twin: Path):
    """Every line of every code cell at most 88 characters (markdown cells are prose and wrap by themselves)."""
    notebook = jupytext.read(twin)
    long_lines = [f"cell {index}: {line[:60]}... ({len(line)} characters)"
                  for index, cell in enumerate(notebook.cells) if cell.cell_type == "code"
                  for line in cell.source.split("\n") if len(line) > CODE_LINE_LIMIT]
    assert not long_lines, f"{twin.name} has code lines over {CODE_LINE_LIMIT} characters: {long_lines}"


@pytest.mark.parametrize("twin", TWINS, ids=lambda p: p.name)
def test_a_figure_cell_shows_its_figure_and_nothing_it_would_caption_twice(twin: Path):
    """A cell with a figure caption labels every output it displays: a Markdown output beside the figure gets the
    same label again, and the book build stops on the duplicate target. Text goes in a cell of its own."""
    notebook = jupytext.read(twin)
    mixed = [index for index, cell in enumerate(notebook.cells)
             if cell.cell_type == "code" and "figure" in cell.metadata.get("mystnb", {})
             and "Markdown(" in cell.source]
    assert not mixed, f"{twin.name}: figure cells {mixed} also display Markdown"


def test_chapters_pick_settings_instead_of_branching_on_the_profile_name():
    """Issue 21: profile.pick(...) or a scale table, not ``if profile.name == ...`` in the chapters."""
    branch = re.compile(r"profile\.name\s*(==|!=|in\b)|\.get\(profile\.name")
    found = {twin.name: [line.strip() for line in twin.read_text().splitlines() if branch.search(line)]
             for twin in TWINS}
    assert not {name: lines for name, lines in found.items() if lines}


SET_UP_CELL = '''# Set-up: on Colab, install ltdd (a no-op elsewhere); start the chapter's time budget.
import subprocess, sys

if "google.colab" in sys.modules:
    PACKAGE = "ltdd @ git+{url}"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", PACKAGE], check=True)

from ltdd.budget import chapter_budget

# `cpu`: 10 minutes; past them the next cell stops, saying so
budget = chapter_budget("{chapter}")'''


@pytest.mark.parametrize("twin", TWINS, ids=lambda p: p.name)
def test_set_up_cell_is_the_one_template(twin: Path):
    """The set-up cell cannot live in ltdd (on Colab it installs ltdd before anything imports it), so every
    chapter opens it with the same lines, its number the only difference (a chapter may add its own set-up
    after them, as chapter 12 does): a copy that drifts fails here."""
    first = next(cell for cell in jupytext.read(twin).cells if cell.cell_type == "code").source
    expected = SET_UP_CELL.format(url=_repository_url(), chapter=twin.name[:2])
    assert first == expected or first.startswith(expected + "\n"), (
        f"{twin.name}: the set-up cell does not open with the template in tests/test_book.py")


def test_markdown_table_alignment():
    from ltdd.markdown import markdown_table

    assert markdown_table(["a", "b"], [[1, "x|y"]]).splitlines() == ["| a | b |", "|---|---|", "| 1 | x\\|y |"]
    table = markdown_table(["a", "b", "c"], [], align="lrc")
    assert table.splitlines()[1] == "|---|---:|:---:|"
    with pytest.raises(ValueError, match="align must give one of"):
        markdown_table(["a", "b"], [], align="r")
    with pytest.raises(ValueError, match="align must give one of"):
        markdown_table(["a"], [], align="m")
