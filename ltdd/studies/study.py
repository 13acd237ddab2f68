"""The result of an experiment over rows and seeds: :class:`Study`, its file, and seed-by-seed comparisons.

Every runner of the book (chapter 09's CRLT-DD plans, chapter 11's trajectory-matching ablation, chapter 12's
comparison of all methods, chapter 04's long-tail effect) returns a :class:`Study`: one flat row per (row label,
seed), the settings that produced them, and any per-seed extras (the SimCLR losses of chapter 09). Chapter 08's
bias sweep keeps its own row identity (method, bias ratio, severity, seed) in :class:`~ltdd.studies.biased.BiasSweep`,
which shares the file handling of :class:`StudyFile`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from ..files import atomic_write_text, locked, read_json, settings_mismatch
from ..markdown import markdown_table
from ..train import EvaluationReport


def value_at(row: dict, key: str):
    """The value of a dotted ``key`` in a row (``"groups.halves.tail"``, chapter 09's head/tail halves); ``None``
    where the row has none."""
    for part in key.split("."):
        row = row.get(part) if isinstance(row, dict) else None
    return row


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and population standard deviation of a non-empty list (the ± over seeds of every table from chapter 09
    on)."""
    mean = sum(values) / len(values)
    return mean, math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))


GROUP_NAMES = {"shots": "{group}-shot accuracy", "halves": "{group}-half accuracy"}
"""How :func:`key_name` words a ``groups.<grouping>.<group>`` key, per grouping."""


def key_name(key: str) -> str:
    """The words for a result key in a sentence: ``"accuracy"`` → "overall accuracy", ``"groups.shots.few"`` →
    "few-shot accuracy", ``"groups.halves.tail"`` → "tail-half accuracy"; another ``groups.<grouping>.<group>``
    key → "<group> accuracy (<grouping>)"; any other key is returned as it is. Machinery behind chapter 09's
    sentences (:meth:`PairedComparison.sentence`)."""
    if key == "accuracy":
        return "overall accuracy"
    parts = key.split(".")
    if len(parts) == 3 and parts[0] == "groups" and all(parts[1:]):
        grouping, group = parts[1:]
        return GROUP_NAMES[grouping].format(group=group) if grouping in GROUP_NAMES else f"{group} accuracy ({grouping})"
    return key


@dataclass
class PairedComparison:
    """Two rows of a study on one key, paired by seed (fractions in [0, 1]).

    Chapter 09 introduces it to judge a CRLT-DD plan against its baseline; chapters 11 and 12 judge the ablation's
    steps and the methods the same way (:meth:`Study.compare`)."""

    label: str
    baseline: str
    key: str
    seeds: list[int]
    values: list[float]
    baseline_values: list[float]

    @property
    def differences(self) -> list[float]:
        """Row minus baseline, seed by seed."""
        return [a - b for a, b in zip(self.values, self.baseline_values)]

    @property
    def mean_difference(self) -> float:
        """Mean of the differences (``nan`` when no seed has both rows)."""
        return sum(self.differences) / len(self.differences) if self.seeds else math.nan

    @property
    def wins(self) -> int:
        """Seeds on which ``label`` is higher than ``baseline``."""
        return sum(d > 0 for d in self.differences)

    @property
    def clear(self) -> bool:
        """Whether the difference is clear: two or more seeds, all differences of one sign, and a mean
        difference larger than the spread over seeds of either row."""
        if len(self.seeds) < 2 or not (all(d > 0 for d in self.differences) or all(d < 0 for d in self.differences)):
            return False
        spread = max(mean_std(self.values)[1], mean_std(self.baseline_values)[1])
        return abs(self.mean_difference) > spread

    def sentence(self, name: str | None = None) -> str:
        """The comparison in words, every number taken from the rows, as Markdown (the row in bold) for a
        chapter's prose: show it with ``IPython.display.Markdown``, or display the comparison itself, which
        renders as this sentence. ``name`` words the key (default: :func:`key_name`)."""
        name = name or key_name(self.key)
        if not self.seeds:
            return f"**{self.label}**, {name}: no seed has both this row and {self.baseline}."
        (m, s), (bm, bs) = mean_std(self.values), mean_std(self.baseline_values)
        diff = 100 * self.mean_difference
        outcome = "improved" if diff > 0 else "got worse" if diff < 0 else "did not change"
        if len(self.seeds) == 1:
            caveat = " (a single seed: there is no spread to judge the difference by)"
        elif diff != 0 and not self.clear:
            caveat = ", but not clearly (not on every seed, or by no more than the spread over seeds)"
        else:
            caveat = ""
        return (f"**{self.label}**, {name}: {100 * m:.1f} ± {100 * s:.1f} % against {100 * bm:.1f} ± {100 * bs:.1f} % "
                f"for {self.baseline}, a difference of {diff:+.1f} points on average, positive in {self.wins} of "
                f"{len(self.seeds)} seeds: the {name} {outcome}{caveat}.")

    def _repr_markdown_(self) -> str:
        return self.sentence()


class StudyFile:
    """What every study file shares: rows identified by :attr:`ROW_ID`, settings, an atomic save under the folder's
    lock that first merges rows other processes wrote, and a load that names a file of another shape.

    A subclass is a dataclass with ``rows`` and ``settings`` fields and says what else its file holds
    (:meth:`payload`, :meth:`from_payload`, :meth:`merge_extras`). Machinery behind chapter 09's
    :class:`Study` and chapter 08's :class:`~ltdd.studies.biased.BiasSweep`."""

    ROW_ID = ("label", "seed")
    """The row fields that identify a row: a study holds at most one row per value."""
    KIND = "study"
    """The file's kind, in a load error."""

    rows: list[dict]
    settings: dict

    def row_id(self, row: dict) -> tuple:
        """The row's identity (:attr:`ROW_ID`)."""
        return tuple(row[name] for name in self.ROW_ID)

    def has(self, row_id: tuple) -> bool:
        """Whether a row with this identity exists (a resumed run skips it)."""
        return any(self.row_id(row) == tuple(row_id) for row in self.rows)

    def payload(self) -> dict:
        """The JSON object the file holds."""
        raise NotImplementedError

    @classmethod
    def from_payload(cls, data: dict) -> "StudyFile":
        """The study a file's JSON object describes; ``KeyError``/``TypeError``/``ValueError`` on another shape."""
        raise NotImplementedError

    def merge_extras(self, other: "StudyFile") -> None:
        """Add what ``other`` holds besides rows and seeds (nothing by default)."""

    def adopt(self, previous: "StudyFile") -> None:
        """Continue ``previous`` (a resumed run): take its rows and extras, and the union of the seeds."""
        seeds = self.settings.get("seeds", [])
        self.rows = []
        self.merge(previous, (), "the resumed file")
        self.settings["seeds"] = sorted(set(previous.settings.get("seeds", [])) | set(seeds))

    def save(self, path: str | Path, merge_keys: Sequence[str] | None = None) -> Path:
        """Write the study as JSON, atomically, holding the folder's lock.

        With ``merge_keys`` (the settings that make two studies one), rows that another process has written to
        ``path`` meanwhile are first merged in (:meth:`merge`), so processes that run seeds of one study side by
        side keep each other's rows."""
        path = Path(path)
        with locked(path.parent):
            if merge_keys is not None and path.is_file():
                self.merge(type(self).load(path), merge_keys, path)
            return atomic_write_text(json.dumps(self.payload(), indent=1), path)

    def merge(self, other: "StudyFile", keys: Sequence[str], source: str | Path = "the other study") -> None:
        """Add ``other``'s rows that this study lacks (by :attr:`ROW_ID`), its seeds and its extras; a study with
        other ``keys`` settings is a ``ValueError``."""
        different = settings_mismatch(other.settings, self.settings, keys)
        if different:
            raise ValueError(f"{source} was written by another run with other settings: {different}")
        mine = {self.row_id(row) for row in self.rows}
        self.rows += [row for row in other.rows if self.row_id(row) not in mine]
        self.settings["seeds"] = sorted(set(self.settings.get("seeds", [])) | set(other.settings.get("seeds", [])))
        self.merge_extras(other)

    @classmethod
    def load(cls, path: str | Path):
        """Read a study written by :meth:`save`; a file of another shape is a ``ValueError`` naming it."""
        data = read_json(path)
        try:
            return cls.from_payload(data)
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise ValueError(f"{path} is not a {cls.KIND} file (hand-edited?): {error!s:.200}") from error


@dataclass
class Study(StudyFile):
    """Results of an experiment over rows and seeds: one row per (label, seed), the settings, the SimCLR losses.

    Chapter 09 introduces it with CRLT-DD's Table III (:func:`ltdd.studies.rebalance.rebalance_study`); chapter 11's
    ablation, chapter 12's comparison and chapter 04's long-tail effect return it too. Its file loads under the old
    name ``RebalanceStudy`` as well (``ltdd.studies.rebalance.RebalanceStudy`` and ``ltdd.studies.RebalanceStudy``: the
    same class)."""

    rows: list[dict]
    settings: dict = field(default_factory=dict)
    simclr: dict = field(default_factory=dict)
    """Seed → the pre-training loss of every epoch."""

    def labels(self) -> list[str]:
        """Row labels, in order of first appearance."""
        return list(dict.fromkeys(row["label"] for row in self.rows))

    def done(self, label: str, seed: int) -> bool:
        """Whether the study has row ``label`` at ``seed`` (``resume`` skips it)."""
        return self.has((label, seed))

    def values(self, label: str, key: str = "accuracy") -> list[float]:
        """``key`` of every seed of a row (``"accuracy"``, or ``"groups.halves.tail"``-style paths)."""
        return [float(value) for row in self.rows if row["label"] == label
                for value in [value_at(row, key)] if value is not None]

    def mean_std(self, label: str, key: str = "accuracy") -> tuple[float, float, int]:
        """Mean, population std and count of ``key`` over the seeds of a row (``nan`` when it has none)."""
        values = self.values(label, key)
        if not values:
            return math.nan, math.nan, 0
        return (*mean_std(values), len(values))

    def _rows_of(self, label: str) -> list[dict]:
        rows = [row for row in self.rows if row["label"] == label]
        if not rows:
            raise KeyError(f"no rows for {label!r}; the study has {self.labels()}")
        return rows

    def report(self, label: str) -> EvaluationReport:
        """A row as an :class:`~ltdd.train.EvaluationReport` with one "run" per seed (for
        :func:`ltdd.book.viz.curves.plot_per_class_accuracy` and friends)."""
        rows = self._rows_of(label)
        return EvaluationReport(self.settings.get("model", "convnet"), self.settings.get("eval_epochs", 0),
                                [row["seed"] for row in rows], [row["accuracy"] for row in rows],
                                [row["per_class"] for row in rows], rows[0]["size"]["images"],
                                extra={"label": label, "plan": rows[0]["plan"]})

    def compare(self, label: str, baseline: str, key: str = "accuracy") -> PairedComparison:
        """Row ``label`` against row ``baseline`` on ``key``, seed by seed (the seeds both rows have)."""
        ours, theirs = ({row["seed"]: value for row in self.rows if row["label"] == name
                         for value in [value_at(row, key)] if value is not None} for name in (label, baseline))
        seeds = sorted(set(ours) & set(theirs))
        return PairedComparison(label, baseline, key, seeds, [ours[s] for s in seeds], [theirs[s] for s in seeds])

    def per_class(self, label: str, key: str = "per_class") -> list[float]:
        """Per-class accuracy of a row (or another per-class list of its rows, ``key``), averaged over seeds."""
        runs = [row[key] for row in self._rows_of(label)]
        return [sum(run[c] for run in runs) / len(runs) for c in range(len(runs[0]))]

    def payload(self) -> dict:
        """``{"settings", "rows", "simclr"}`` (SimCLR losses keyed by the seed as a string)."""
        return {"settings": self.settings, "rows": self.rows, "simclr": {str(k): v for k, v in self.simclr.items()}}

    @classmethod
    def from_payload(cls, data: dict) -> "Study":
        """A study from its file's JSON object; every row needs a string label and an int seed."""
        rows, settings, simclr = data["rows"], data.get("settings", {}), data.get("simclr", {})
        if not isinstance(rows, list) or not isinstance(settings, dict) or not isinstance(simclr, dict):
            raise TypeError("rows must be a list, settings and simclr objects")
        for row in rows:
            if not (isinstance(row, dict) and isinstance(row["label"], str) and isinstance(row["seed"], int)):
                raise TypeError(f"every row needs a label and an int seed, got {row!r:.80}")
        return cls(rows, settings, {int(k): v for k, v in simclr.items()})

    def merge_extras(self, other: "Study") -> None:
        """Keep ``other``'s SimCLR losses of the seeds this study has none for."""
        for seed, losses in other.simclr.items():
            self.simclr.setdefault(seed, losses)

    @classmethod
    def combine(cls, *studies: "Study") -> "Study":
        """One study from several run side by side (e.g. seeds split over processes): all rows (a (row, seed)
        measured twice is kept once), the first one's settings with the seeds of all."""
        if not studies:
            raise ValueError("combine needs at least one study")
        combined = cls([], dict(studies[0].settings))
        for study in studies:
            combined.merge(study, ())
        combined.settings["seeds"] = sorted({seed for study in studies for seed in study.settings.get("seeds", [])})
        combined.simclr = {seed: losses for study in studies for seed, losses in study.simclr.items()}
        return combined


# ------------------------------------------------------------------------------------------------ tables
def _first_row(study: Study, label: str) -> dict:
    return next(row for row in study.rows if row["label"] == label)


def seed_count(study: Study, label: str) -> str:
    """The number of seeds with an accuracy for a row: the last column of the tables of chapter 09 (and of
    chapters 11 and 12)."""
    return str(study.mean_std(label)[2])


def set_images(study: Study, label: str) -> str:
    """The number of training images of a row's set (its first seed's), a column of chapter 09's tables."""
    return str(_first_row(study, label)["size"]["images"])


def percent_of_long_tailed_set(study: Study, label: str) -> str:
    """A row's training set as a percentage of the long-tailed set (CRLT-DD's Table IV column), "–" for a row
    that does not record it; a column of chapter 09's tables."""
    percent = _first_row(study, label)["size"].get("percent")
    return "–" if percent is None else f"{percent:.1f}"


HALF_COLUMNS = (("overall", "accuracy"), ("head half", "groups.halves.head"), ("tail half", "groups.halves.tail"))
"""The default accuracy columns of :func:`study_table`: overall, then the head and tail halves of the classes."""

SIZE_COLUMNS = (("images", set_images), ("% of LT set", percent_of_long_tailed_set), ("seeds", seed_count))
"""The default columns after the accuracies: the set's size, its share of the long-tailed set, the seeds."""

Column = tuple[str, Callable[[Study, str], str]]


def study_table(study: Study, keys: Sequence[tuple[str, str]] = HALF_COLUMNS, decimals: int = 2,
                header: str = "row", first: Sequence[Column] = (), after: Sequence[Column] = SIZE_COLUMNS,
                align: str | None = None) -> str:
    """A markdown table (:func:`ltdd.markdown.markdown_table`, ``align`` as there), one line per row label: the label
    (column ``header``), the ``first`` columns, then for each ``(column, key)`` of ``keys`` the mean ± std over
    seeds (in %) of ``key`` ("–" where the row has none), then the ``after`` columns; a ``(name, function)``
    column shows ``function(study, label)``.

    Chapter 09 introduces it for CRLT-DD's Table III (the defaults: overall and half accuracies, size, seeds; the
    same function as ``ltdd.studies.rebalance.study_table``); chapter 11's ablation table and chapter 12's comparison
    table are this table with other columns."""
    rows = []
    for label in study.labels():
        cells = []
        for _, key in keys:
            mean, std, count = study.mean_std(label, key)
            missing = count == 0 or math.isnan(mean)
            cells.append("–" if missing else f"{100 * mean:.{decimals}f} ± {100 * std:.{decimals}f}")
        rows.append([label, *(function(study, label) for _, function in first), *cells,
                     *(function(study, label) for _, function in after)])
    names = [header, *(name for name, _ in first), *(name for name, _ in keys), *(name for name, _ in after)]
    return markdown_table(names, rows, align)
