"""Work-arounds for Jupyter Book 1.x's toolchain (Sphinx 7.x) that a real browser shows.

Sphinx 7 lists a script added with ``app.add_js_file(None, body=...)`` once the HTML builder exists
twice: as filename ``None`` and, when writing starts, again as ``''`` (fixed upstream by
sphinx-doc/sphinx#13402, in Sphinx 8; Jupyter Book 1.x requires sphinx~=7.0). sphinx-thebe adds its
``const THEBE_JS_URL = ...`` line that way, so every page threw "SyntaxError: Identifier 'THEBE_JS_URL' has
already been declared". Renaming the ``None`` entries to ``''`` in place, before writing, keeps one copy in
its original position.

The launch button "Colab" of a chapter opens the chapter's Colab edition (``colab/NN_name.ipynb``, plain Markdown
made by ``python -m ltdd colab-edition``), not the MyST notebook in ``chapters/``, which Colab shows as raw text.

The bibliography's labels match the author-year citations of the text ("Zhao and Bilen, 2023", not "[ZB23]"):
the pybtex style ``ltdd_author_year`` (``bibtex_default_style`` in ``_config.yml``) is pybtex's ``plain`` with
author-year labels, a letter added when two entries would share one.
"""

import re

from pybtex.plugin import register_plugin
from pybtex.style.formatting.plain import Style as PlainStyle
from pybtex.style.labels import BaseLabelStyle


def author_year(entry) -> str:
    """"Zhao, 2021", "Zhao and Bilen, 2023", "Zhao et al., 2021": as sphinxcontrib-bibtex's author_year citations."""
    last = [" ".join(person.last_names).replace("{", "").replace("}", "")
            for person in entry.persons.get("author", [])]
    who = last[0] if len(last) == 1 else f"{last[0]} and {last[1]}" if len(last) == 2 else f"{last[0]} et al."
    return f"{who}, {entry.fields.get('year', 'n.d.')}"


class AuthorYearLabels(BaseLabelStyle):
    def format_labels(self, sorted_entries):
        seen = {}
        for entry in sorted_entries:
            label = author_year(entry)
            seen[label] = seen.get(label, 0) + 1
            yield label if seen[label] == 1 else f"{label}{'abcdefghijklmnopqrstuvwxyz'[seen[label] - 1]}"


class AuthorYearStyle(PlainStyle):
    default_label_style = "ltdd_author_year"


register_plugin("pybtex.style.labels", "ltdd_author_year", AuthorYearLabels)
register_plugin("pybtex.style.formatting", "ltdd_author_year", AuthorYearStyle)

CHAPTER_PAGE = re.compile(r"^chapters/\d\d_[\w-]+$")


def _one_copy_of_inline_scripts(app, env):
    scripts = getattr(app.builder, "_js_files", None)
    if scripts:
        renamed = [type(s)("", priority=s.priority, **s.attributes) if s.filename is None else s for s in scripts]
        scripts[:] = list(dict.fromkeys(renamed))


def _colab_opens_the_colab_edition(app, pagename, templatename, context, doctree):
    if not CHAPTER_PAGE.match(pagename):
        return
    for group in context.get("header_buttons", []):
        for button in group.get("buttons", []) if group.get("label") == "launch-buttons" else []:
            if button.get("text") == "Colab":
                button["url"] = re.sub(r"/blob/([^/]+)/chapters/", r"/blob/\1/colab/", button["url"])


def setup(app):
    app.connect("env-updated", _one_copy_of_inline_scripts)
    # after sphinx-book-theme's add_launch_buttons (priority 501)
    app.connect("html-page-context", _colab_opens_the_colab_edition, priority=600)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
