"""Work-arounds for Jupyter Book 1.x's toolchain (Sphinx 7.x) that a real browser shows.

Sphinx 7 lists a script added with ``app.add_js_file(None, body=...)`` once the HTML builder exists
twice: as filename ``None`` and, when writing starts, again as ``''`` (fixed upstream by
sphinx-doc/sphinx#13402, in Sphinx 8; Jupyter Book 1.x requires sphinx~=7.0). sphinx-thebe adds its
``const THEBE_JS_URL = ...`` line that way, so every page threw "SyntaxError: Identifier 'THEBE_JS_URL' has
already been declared". Renaming the ``None`` entries to ``''`` in place, before writing, keeps one copy in
its original position.

A default that Python shows as ``<factory>`` (a dataclass field with a ``default_factory``) or
``<function name at ...>`` is not an expression, so Sphinx cannot parse such a signature and prints it as
raw text, with its ``~ltdd.distill.base.SyntheticSet``-style type names unlinked and the ``~`` visible. The
signature is rewritten before it is parsed: ``<factory>`` becomes ``...`` and a function becomes its name.
"""

import re

_FUNCTION_REPR = re.compile(r"<function (?P<name>[\w.]+)(?: at 0x[0-9a-f]+)?>")
_OTHER_REPR = re.compile(r"<[^<>()]*>")


def _one_copy_of_inline_scripts(app, env):
    scripts = getattr(app.builder, "_js_files", None)
    if scripts:
        renamed = [type(s)("", priority=s.priority, **s.attributes) if s.filename is None else s for s in scripts]
        scripts[:] = list(dict.fromkeys(renamed))


def parsable_signature(signature: str) -> str:
    """``signature`` with the reprs that are not Python expressions replaced: functions by their name,
    anything else in angle brackets (``<factory>``) by ``...``."""
    return _OTHER_REPR.sub("...", _FUNCTION_REPR.sub(lambda m: m.group("name"), signature))


def _parsable_defaults(app, what, name, obj, options, signature, return_annotation):
    if signature and "<" in signature:
        return parsable_signature(signature), return_annotation
    return None


def setup(app):
    app.connect("env-updated", _one_copy_of_inline_scripts)
    app.connect("autodoc-process-signature", _parsable_defaults)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
