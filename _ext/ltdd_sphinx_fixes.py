"""Work-arounds for Jupyter Book 1.x's toolchain (Sphinx 7.x) that a real browser shows.

Sphinx 7 lists a script added with ``app.add_js_file(None, body=...)`` once the HTML builder exists
twice: as filename ``None`` and, when writing starts, again as ``''`` (fixed upstream by
sphinx-doc/sphinx#13402, in Sphinx 8; Jupyter Book 1.x requires sphinx~=7.0). sphinx-thebe adds its
``const THEBE_JS_URL = ...`` line that way, so every page threw "SyntaxError: Identifier 'THEBE_JS_URL' has
already been declared". Renaming the ``None`` entries to ``''`` in place, before writing, keeps one copy in
its original position.

The launch button "Colab" of a chapter opens the chapter's Colab edition (``colab/NN_name.ipynb``, plain Markdown
made by ``python -m ltdd colab-edition``), not the MyST notebook in ``chapters/``, which Colab shows as raw text.
"""

import re

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
