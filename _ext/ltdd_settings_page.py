"""Regenerate ``reference/settings.md`` (every method's ``paper`` setting beside its source) before Sphinx reads
the table of contents, from :mod:`ltdd.book.settings_page`, so the page always shows what the code runs.

Connected to ``config-inited`` with a priority below the default (500), so it runs before
sphinx-external-toc resolves ``_toc.yml``; the page is rewritten only when its text changed.
"""

from pathlib import Path


def _write_settings_page(app, config):
    from ltdd.book.settings_page import write_settings_page

    write_settings_page(Path(app.srcdir) / "reference" / "settings.md")


def setup(app):
    app.connect("config-inited", _write_settings_page, priority=100)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
