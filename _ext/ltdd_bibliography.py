"""Bibliography labels that match the author-year citations in the text.

The book cites with ``bibtex_reference_style: author_year``, so the text reads "[Zhao and Bilen, 2023]"; the
default bibliography style labels the same entry "[ZB23]", and a reader cannot match the two. This extension
registers a pybtex formatting style, ``ltdd_author_year``, whose labels are written the way the citations are
(one author: "Welling, 2009"; two: "Zhao and Bilen, 2023"; more: "Zhao et al., 2021"), with a, b, ... after the
year when two entries would otherwise share a label, and which sorts the list by author, year and title.
``_config.yml`` selects it with ``bibtex_default_style``.
"""

from __future__ import annotations

from collections import Counter

from pybtex.plugin import register_plugin
from pybtex.style.formatting.unsrt import Style as UnsrtStyle
from pybtex.style.labels import BaseLabelStyle

STYLE_NAME = "ltdd_author_year"


def _last_name(person) -> str:
    return " ".join(part.render_as("text") for part in person.rich_last_names)


def author_year_label(entry) -> str:
    """"Last, year", "Last and Other, year" or "Last et al., year", as sphinxcontrib-bibtex's author_year
    citations write them."""
    persons = entry.persons.get("author") or entry.persons.get("editor") or []
    names = [_last_name(person) for person in persons]
    if not names:
        who = entry.fields.get("title", entry.key)
    elif len(names) == 1:
        who = names[0]
    elif len(names) == 2:
        who = f"{names[0]} and {names[1]}"
    else:
        who = f"{names[0]} et al."
    return f"{who}, {entry.fields.get('year', 'n.d.')}"


class AuthorYearLabelStyle(BaseLabelStyle):
    """Labels written like the in-text author-year citations, made unique with a, b, ... after the year."""

    def format_labels(self, sorted_entries):
        entries = list(sorted_entries)
        labels = [author_year_label(entry) for entry in entries]
        repeated, seen = Counter(labels), Counter()
        for label in labels:
            if repeated[label] > 1:
                seen[label] += 1
                yield label + "abcdefghijklmnopqrstuvwxyz"[seen[label] - 1]
            else:
                yield label


class AuthorYearStyle(UnsrtStyle):
    """The unsrt entry format with author-year labels, sorted by author, year and title."""

    default_label_style = AuthorYearLabelStyle
    default_sorting_style = "author_year_title"


def setup(app):
    register_plugin("pybtex.style.formatting", STYLE_NAME, AuthorYearStyle)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
