"""The Colab edition of the book: every chapter notebook with its MyST turned into the plain Markdown that Jupyter
and Colab render.

The book's chapters are written in MyST (Jupyter Book's Markdown). Opened on Colab as they are, its directives
and roles show as raw text: exercises and admonitions as code blocks, ``{func}`` roles as typed, solutions in
plain view. :func:`colab_notebook` rewrites the markdown cells:

=====================================  ===========================================================================
MyST                                   Colab edition
=====================================  ===========================================================================
``{exercise}`` (``:label:``)           a heading "Exercise 5.1" (numbered per chapter, in order)
``{solution}``                         the solution folded in ``<details>`` ("Solution to Exercise 5.1")
``{admonition}`` Title                 a blockquote opening with the title in bold
``{func}``/``{class}``/... ``ltdd.*``  a link to the entry of the rendered book's API reference
``{doc}``                              a link to the chapter's page of the rendered book, titled as the chapter
``{numref}``/``{eq}``/``{ref}``        the number as text: "Fig. 5.2", "(5.1)", "Exercise 11.3"
``{cite}``                             author and year, e.g. "(Zhao and Bilen, 2023)"
``{term}``                             a link to the term in the rendered book's glossary
``$$ ... $$ (label)``                  the equation with ``\\tag{5.1}``
``(label)=`` targets                   removed
=====================================  ===========================================================================

A code cell that draws a captioned figure (MyST-NB ``figure`` metadata) is followed by a markdown cell with
"Fig. 5.2" and the caption. The set-up cell installs ``ltdd`` from the repository named in ``_config.yml``.
The student edition (:mod:`ltdd.book.student`) goes through the same conversion after its solutions are removed.
From the command line::

    python -m ltdd colab-edition colab     # colab/NN_name.ipynb and colab/student/NN_name.ipynb

The rendered book's address is ``html.baseurl`` of ``_config.yml`` if set, else the GitHub Pages address of
``repository.url`` (``https://OWNER.github.io/REPO/``).
"""

from __future__ import annotations

import copy
import posixpath
import re
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from .student import EXERCISE_OPEN, LABEL, SOLUTION_OPEN, student_notebook

DIRECTIVE_OPEN = re.compile(r"^(?P<fence>`{3,}|:{3,})\{(?P<name>[\w-]+)\}\s*(?P<argument>.*)$")
OPTION = re.compile(r"^:(?P<key>[\w-]+):\s*(?P<value>.*)$")
ROLE = re.compile(r"\{(?P<role>[a-z]+(?::[a-z]+)?)\}`(?P<body>[^`]+)`")
EQUATION_LABEL = re.compile(r"^\$\$\s*\((?P<label>[\w-]+)\)\s*$")
TARGET = re.compile(r"^\((?P<label>[\w-]+)\)=\s*$")
PY_ROLES = {"func", "class", "meth", "mod", "data", "attr", "exc", "obj"}
ADMONITION_TITLES = {"note": "Note", "tip": "Tip", "warning": "Warning", "important": "Important",
                     "hint": "Hint", "caution": "Caution", "attention": "Attention", "seealso": "See also"}


@dataclass
class BookIndex:
    """What the conversion needs to know about the whole book: numbers of every labelled figure, equation and
    exercise ("5.2"), chapter titles, which API page documents which module, the bibliography, the book's URL."""

    book_url: str
    repository_url: str
    branch: str = "main"
    numbers: dict[str, str] = field(default_factory=dict)
    kinds: dict[str, str] = field(default_factory=dict)
    titles: dict[str, str] = field(default_factory=dict)
    api_pages: dict[str, str] = field(default_factory=dict)
    citations: dict[str, str] = field(default_factory=dict)
    glossary: dict[str, str] = field(default_factory=dict)
    """Lower-case term → the term as the glossary (``reference/glossary.md``) spells it."""

    def api_link(self, target: str) -> str | None:
        """The rendered book's URL of an ``ltdd`` object's entry, or ``None`` when no API page documents it."""
        module = max((m for m in self.api_pages if target == m or target.startswith(m + ".")), key=len, default=None)
        if module is None:
            return None
        return f"{self.book_url}{self.api_pages[module]}.html#{'module-' + target if target == module else target}"


def _chapter_number(stem: str) -> str:
    match = re.match(r"(\d+)_", stem)
    return str(int(match.group(1))) if match else stem


def _repository_settings(root: Path) -> tuple[str, str, str]:
    import yaml  # the book's toolchain (the `book` extra) has it; the edition is made from a checkout

    config = yaml.safe_load((root / "_config.yml").read_text())
    repository = config["repository"]["url"].rstrip("/")
    base = (config.get("html") or {}).get("baseurl")
    if not base:
        owner, name = repository.split("/")[-2:]
        base = f"https://{owner.lower()}.github.io/{name}/"
    return repository, base.rstrip("/") + "/", config["repository"].get("branch", "main")


def _citation_text(entry: str) -> str:
    author = re.search(r"author\s*=\s*\{(.+?)\},?\s*$", entry, re.M | re.S)
    year = re.search(r"year\s*=\s*\{?(\d{4})", entry)
    names = [name.strip() for name in re.split(r"\s+and\s+", author.group(1))] if author else ["?"]
    last = [name.split(",")[0].strip("{} ") if "," in name else name.split()[-1].strip("{}") for name in names]
    who = last[0] if len(last) == 1 else f"{last[0]} and {last[1]}" if len(last) == 2 else f"{last[0]} et al."
    return f"{who}, {year.group(1) if year else 'n.d.'}"


def book_index(root: str | Path, notebooks: list[Path] | None = None) -> BookIndex:
    """Read the book at ``root`` (a checkout): its chapters' labels in order, titles, API pages and bibliography."""
    root = Path(root)
    repository, base, branch = _repository_settings(root)
    index = BookIndex(book_url=base, repository_url=repository, branch=branch)
    for page in sorted((root / "reference").glob("api_*.md")):
        for module in re.findall(r"^\.\. automodule:: (\S+)$", page.read_text(), re.M):
            index.api_pages[module] = f"reference/{page.stem}"
    glossary = root / "reference" / "glossary.md"
    if glossary.is_file():
        block = re.search(r"^```\{glossary\}\n(.*?)^```", glossary.read_text(), re.M | re.S)
        for term in re.findall(r"^(\S.*?)\s*$", block.group(1) if block else "", re.M):
            index.glossary[term.lower()] = term
    bib = (root / "references.bib").read_text()
    for key, entry in re.findall(r"^@\w+\s*\{\s*([^,\s]+)\s*,(.*?)^\}", bib, re.M | re.S):
        index.citations[key] = _citation_text(entry)
    for path in notebooks if notebooks is not None else sorted((root / "chapters").glob("[0-9][0-9]_*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        chapter = _chapter_number(path.stem)
        counters = {"figure": 0, "equation": 0, "exercise": 0}
        for cell in notebook.cells:
            if cell.cell_type == "markdown":
                if path.stem not in index.titles:
                    heading = re.search(r"^# (.+)$", cell.source, re.M)
                    if heading:
                        index.titles[path.stem] = heading.group(1).strip()
                lines = cell.source.split("\n")
                for i, line in enumerate(lines):
                    equation = EQUATION_LABEL.match(line.strip())
                    if equation:
                        counters["equation"] += 1
                        index.numbers[equation["label"]] = f"{chapter}.{counters['equation']}"
                        index.kinds[equation["label"]] = "equation"
                    if EXERCISE_OPEN.match(line):
                        label = next((m["label"] for m in map(LABEL.match, lines[i + 1:i + 6]) if m), None)
                        if label:
                            counters["exercise"] += 1
                            index.numbers[label] = f"{chapter}.{counters['exercise']}"
                            index.kinds[label] = "exercise"
            elif cell.cell_type == "code":
                figure = cell.metadata.get("mystnb", {}).get("figure", {})
                if figure.get("name"):
                    counters["figure"] += 1
                    index.numbers[figure["name"]] = f"{chapter}.{counters['figure']}"
                    index.kinds[figure["name"]] = "figure"
    return index


_PREFIX = {"figure": "Fig.", "equation": "", "exercise": "Exercise"}


def _reference_text(index: BookIndex, label: str, title: str | None) -> str:
    if label not in index.numbers:
        raise ValueError(f"a reference names {label!r}, which no chapter labels")
    number = index.numbers[label]
    if title:
        return title.replace("%s", number).replace("{number}", number)
    return f"({number})" if index.kinds[label] == "equation" else f"{_PREFIX[index.kinds[label]]} {number}"


def convert_roles(text: str, index: BookIndex) -> str:
    """Every MyST role in ``text`` as plain Markdown (see the module's table)."""

    def replace(match: re.Match) -> str:
        role, body = match["role"], match["body"]
        explicit = re.fullmatch(r"(?P<title>.+?)\s*<(?P<target>[^<>]+)>", body, re.S)
        title, target = (explicit["title"], explicit["target"]) if explicit else (None, body)
        name = role.split(":")[-1]
        if name in PY_ROLES:
            shown = title or (target.lstrip("~").split(".")[-1] if target.startswith("~") else target)
            target = target.lstrip("~")
            if name in {"func", "meth"} and not title:
                shown += "()"
            url = index.api_link(target) if target.startswith("ltdd") else None
            return f"[`{shown}`]({url})" if url else f"`{shown}`"
        if name == "doc":  # a document path relative to the chapter (chapters/), without suffix
            page = posixpath.normpath(posixpath.join("chapters", target))
            shown = title or index.titles.get(Path(page).name, Path(page).name)
            return f"[{shown}]({index.book_url}{page}.html)"
        if name in {"numref", "eq", "ref"}:
            return _reference_text(index, target, title)
        if role.startswith("cite"):
            keys = [key.strip() for key in target.split(",")]
            missing = [key for key in keys if key not in index.citations]
            if missing:
                raise ValueError(f"{{cite}} names {missing}, which references.bib lacks")
            return "(" + "; ".join(index.citations[key] for key in keys) + ")"
        if name == "term":
            term = index.glossary.get(target.strip().lower())
            if term is None:
                raise ValueError(f"{{term}} names {target!r}, which the glossary lacks")
            return f"[{title or target}]({index.book_url}reference/glossary.html#term-{term.replace(' ', '-')})"
        raise ValueError(f"the Colab edition does not know the role {{{role}}} (in {match.group(0)!r})")

    return ROLE.sub(replace, text)


def _directive_blocks(lines: list[str]) -> list[tuple[int, int]]:
    """Outermost ``(first, last)`` line ranges of fenced directives (closed by their fence alone on a line)."""
    blocks, i = [], 0
    while i < len(lines):
        match = DIRECTIVE_OPEN.match(lines[i])
        if match:
            fence = match["fence"]
            end = next((j for j in range(i + 1, len(lines)) if lines[j].strip() == fence), None)
            if end is None:
                raise ValueError(f"the {{{match['name']}}} directive at line {i + 1} is never closed by {fence}")
            blocks.append((i, end))
            i = end + 1
        else:
            i += 1
    return blocks


def _split_options(body: list[str]) -> tuple[dict[str, str], list[str]]:
    options, i = {}, 0
    while i < len(body) and OPTION.match(body[i]):
        match = OPTION.match(body[i])
        options[match["key"]] = match["value"].strip()
        i += 1
    return options, body[i:]


def _convert_directive(lines: list[str], index: BookIndex) -> list[str]:
    opening = DIRECTIVE_OPEN.match(lines[0])
    name, argument = opening["name"], opening["argument"].strip()
    options, body = _split_options(lines[1:-1])
    body = convert_directives("\n".join(body).strip("\n"), index).split("\n")
    if name == "exercise":
        label = options.get("label")
        heading = f"Exercise {index.numbers[label]}" if label in index.numbers else "Exercise"
        return [f"#### {heading}" + (f": {argument}" if argument else ""), "", *body]
    if name == "solution":
        number = index.numbers.get(argument)
        summary = f"Solution to Exercise {number}" if number else "Solution"
        return ["<details>", f"<summary>{summary}</summary>", "", *body, "", "</details>"]
    if name == "admonition" or name in ADMONITION_TITLES:
        title = argument if name == "admonition" else ADMONITION_TITLES[name] + (f": {argument}" if argument else "")
        quoted = [f"> {line}" if line.strip() else ">" for line in body]
        return [f"> **{title}**", ">", *quoted]
    raise ValueError(f"the Colab edition does not know the directive {{{name}}}")


def convert_directives(text: str, index: BookIndex) -> str:
    """Fenced MyST directives (exercise, solution, admonitions) as plain Markdown; code fences are kept."""
    lines = text.split("\n")
    for first, last in reversed(_directive_blocks(lines)):
        lines[first:last + 1] = _convert_directive(lines[first:last + 1], index)
    return "\n".join(lines)


def convert_math_and_targets(text: str, index: BookIndex) -> str:
    """``$$ ... $$ (label)`` as an equation with ``\\tag{number}``; ``(label)=`` target lines removed."""
    out = []
    for line in text.split("\n"):
        equation = EQUATION_LABEL.match(line.strip())
        if equation:
            out += [f"\\tag{{{index.numbers[equation['label']]}}}", "$$"]
        elif not TARGET.match(line.strip()):
            out.append(line)
    return "\n".join(out)


def colab_markdown(text: str, index: BookIndex) -> str:
    """One markdown cell of the book as the Colab edition shows it."""
    return convert_roles(convert_directives(convert_math_and_targets(text, index), index), index)


INSTALL = re.compile(r'"ltdd @ git\+(?P<url>[^"]+)"')


def colab_notebook(notebook: nbformat.NotebookNode, index: BookIndex) -> nbformat.NotebookNode:
    """A copy of ``notebook`` in plain Markdown, each captioned figure followed by its caption, the set-up cell
    installing from ``index.repository_url``."""
    colab = nbformat.v4.new_notebook(metadata=copy.deepcopy(notebook.metadata))
    for cell in notebook.cells:
        cell = copy.deepcopy(cell)
        if cell.cell_type == "markdown":
            cell.source = colab_markdown(cell.source, index)
            colab.cells.append(cell)
            continue
        if cell.cell_type == "code":
            cell.source = INSTALL.sub(f'"ltdd @ git+{index.repository_url}"', cell.source)
        colab.cells.append(cell)
        figure = cell.get("metadata", {}).get("mystnb", {}).get("figure", {})
        if figure.get("name"):
            caption = colab_markdown(figure.get("caption", ""), index)
            colab.cells.append(nbformat.v4.new_markdown_cell(
                f"**Fig. {index.numbers[figure['name']]}.** {caption}", id=f"{cell.get('id', 'figure')}-caption"))
    return colab


COLAB_NOTE = ("# ltdd on Colab\n\nGenerated by `python -m ltdd colab-edition colab` from `chapters/`: the same "
              "notebooks in plain Markdown that Jupyter and Colab render (exercises as headings, solutions folded, "
              "API names linked to the rendered book). `student/` holds the student edition (no solutions). Do not "
              "edit these files; edit `chapters/NN_name.py` and regenerate. CI checks that they are in sync.\n")


def colab_edition(out: str | Path, root: str | Path | None = None) -> dict[str, list[str]]:
    """Write the Colab edition of every chapter of the book at ``root`` (default: this checkout) to ``out`` and its
    student edition to ``out/student``; returns edition → written file names."""
    from ..config import repository_root

    root = Path(root) if root is not None else repository_root()
    if root is None:
        raise FileNotFoundError("the Colab edition is made from a checkout of the book (with _config.yml); "
                                "pass root=")
    notebooks = sorted((root / "chapters").glob("[0-9][0-9]_*.ipynb"))
    if not notebooks:
        raise FileNotFoundError(f"no chapter notebooks in {root / 'chapters'}")
    index = book_index(root, notebooks)
    out = Path(out)
    written: dict[str, list[str]] = {"colab": [], "student": []}
    for edition, folder in (("colab", out), ("student", out / "student")):
        folder.mkdir(parents=True, exist_ok=True)
        for path in notebooks:
            notebook = nbformat.read(path, as_version=4)
            if edition == "student":
                notebook, _ = student_notebook(notebook, int(path.name[:2]))
            nbformat.write(colab_notebook(notebook, index), folder / path.name)
            written[edition].append(path.name)
    (out / "README.md").write_text(COLAB_NOTE)
    return written


def colab_url(index: BookIndex, chapter_file: str, student: bool = False) -> str:
    """The address that opens a chapter's Colab edition (``colab/`` or ``colab/student/`` of the repository)."""
    owner, name = index.repository_url.split("/")[-2:]
    folder = "colab/student" if student else "colab"
    return f"https://colab.research.google.com/github/{owner}/{name}/blob/{index.branch}/{folder}/{chapter_file}"


REPOSITORY_URL = re.compile(r"https://github\.com/[\w.-]+/[\w-]+")
REPOSITORY_FILES = ("_config.yml", "pyproject.toml", "README.md", "chapters/*.py", "chapters/*.ipynb")


def set_repository(url: str, root: str | Path | None = None) -> list[str]:
    """Make ``url`` (``https://github.com/OWNER/REPO``, a fork's) the book's repository: the one setting
    ``repository.url`` of ``_config.yml``, and every place that repeats it (the chapters' install cells,
    ``pyproject.toml``, the README), then the Colab edition again. Returns the files changed."""
    from ..config import repository_root

    if not REPOSITORY_URL.fullmatch(url):
        raise ValueError(f"url must look like https://github.com/OWNER/REPO, got {url!r}")
    root = Path(root) if root is not None else repository_root()
    if root is None:
        raise FileNotFoundError("set_repository changes a checkout of the book (a folder with _config.yml)")
    old, _, _ = _repository_settings(root)
    changed = []
    for pattern in REPOSITORY_FILES:
        for path in sorted(root.glob(pattern)):
            text = path.read_text()
            if old in text:
                path.write_text(text.replace(old, url))
                changed.append(str(path.relative_to(root)))
    colab_edition(root / "colab", root)
    return changed


DRIVE_MOUNT = Path("/content/drive")


def keep_on_drive(folders: tuple[str, ...] = ("runs", "data/cache"), drive_folder: str = "ltdd",
                  workdir: str | Path = ".", mount_point: str | Path = DRIVE_MOUNT, mount=None) -> dict[str, Path]:
    """On Colab: keep ``folders`` (the chapters' resumable runs, the downloaded datasets) on Google Drive, so that a
    new runtime continues a run and skips the download. Mounts Drive (Colab asks for permission) and makes each
    folder under ``workdir`` a link to ``MyDrive/<drive_folder>/<folder>``; returns folder → its place on Drive.

    A folder that already holds files is refused (move them first), never overwritten. ``mount`` replaces
    ``google.colab.drive.mount`` (tests)."""
    if mount is None:
        from google.colab import drive  # only on Colab

        mount = drive.mount
    mount_point = Path(mount_point)
    mount(str(mount_point))
    places = {}
    for folder in folders:
        local, remote = Path(workdir) / folder, mount_point / "MyDrive" / drive_folder / folder
        remote.mkdir(parents=True, exist_ok=True)
        if local.is_symlink():
            if local.resolve() == remote.resolve():
                places[folder] = remote
                continue
            raise ValueError(f"{local} already links to {local.resolve()}, not {remote}; remove the link first")
        if local.exists():
            if any(local.iterdir()):
                raise ValueError(f"{local} holds files: move them to {remote} first (nothing is overwritten)")
            local.rmdir()
        local.parent.mkdir(parents=True, exist_ok=True)
        local.symlink_to(remote, target_is_directory=True)
        places[folder] = remote
    return places


__all__ = ["BookIndex", "keep_on_drive", "set_repository", "book_index", "colab_edition", "colab_markdown", "colab_notebook", "colab_url",
           "convert_directives", "convert_math_and_targets", "convert_roles"]
