"""The browser check of the rendered book runs only when asked for: ``python -m pytest tests/browser``.

The package-test stage (``pytest tests -n 2``) runs before the book exists, so this folder is left out of its
collection: its tests are neither run nor counted as skipped there. Naming ``tests/browser`` (or a file in it)
on the command line, or setting ``LTDD_BOOK_HTML`` to the built HTML folder, collects them.
"""

from __future__ import annotations

import os
from pathlib import Path

HERE = Path(__file__).resolve().parent
_BLOCKED = "ltdd_blocked_external_requests"


def _asked_for(config) -> bool:
    if os.environ.get("LTDD_BOOK_HTML"):
        return True
    for arg in config.args:
        path = Path(arg.split("::", 1)[0])
        path = (path if path.is_absolute() else Path(config.invocation_params.dir) / path).resolve()
        if path == HERE or HERE in path.parents:
            return True
    return False


def pytest_ignore_collect(collection_path, config):
    if collection_path.suffix == ".py" and not _asked_for(config):
        return True
    return None


def pytest_configure(config):
    config._ltdd_blocked = {}  # external URL -> pages that requested it (aborted: not part of the book)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    blocked = getattr(config, "_ltdd_blocked", {})
    if not blocked:
        return
    terminalreporter.write_sep("-", f"external requests blocked (not part of the book): {len(blocked)}")
    for url, pages in sorted(blocked.items()):
        shown = ", ".join(sorted(pages)[:3]) + (", ..." if len(pages) > 3 else "")
        terminalreporter.write_line(f"  {url}  ({len(pages)} page(s): {shown})")
