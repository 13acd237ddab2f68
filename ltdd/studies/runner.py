"""One loop for every experiment of the book: rows × seeds, saved after every row, resumable."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Hashable, Mapping, Sequence

from tqdm.auto import tqdm

from ..files import settings_mismatch
from .study import StudyFile

ORDERS = ("seed", "row")


def check_seeds(seeds: Sequence[int]) -> list[int]:
    """The seeds as a list; they must be a non-empty list of non-negative ints (``ValueError`` otherwise). Every
    study's seeds pass through it, from chapter 04's long-tail effect on."""
    seeds = list(seeds)
    if not seeds or any(not isinstance(s, int) or isinstance(s, bool) or s < 0 for s in seeds):
        raise ValueError(f"seeds must be a non-empty list of non-negative ints, got {seeds!r}")
    return seeds


def file_beside(out: str | Path | None, tag: str, resume: bool) -> Path | None:
    """Where a saved study keeps what it saves while it runs: ``<study>_<tag>.pt`` beside ``out`` (``None``
    without ``out``). A run that starts over (``resume=False``) removes an earlier file, as it rewrites the study.
    SimCLR's pre-training (chapter 09) and the comparison's distillation rows (chapter 12) are kept this way."""
    if out is None:
        return None
    path = Path(out).with_name(f"{Path(out).stem}_{tag}.pt")
    if not resume:
        path.unlink(missing_ok=True)
    return path


def resume_from(study: StudyFile, out: str | Path, keys: Sequence[str]) -> None:
    """Make ``study`` continue the file ``out`` (its rows, extras and seeds); a file written with other ``keys``
    settings is a ``ValueError`` that names them. :func:`run_study` calls it for ``resume=True`` (chapter 09's
    recorded runs were resumed this way)."""
    previous = type(study).load(out)
    different = settings_mismatch(previous.settings, study.settings, keys)
    if different:
        raise ValueError(f"{out} was written with other settings: {different}")
    study.adopt(previous)


def run_study(rows: Sequence[Hashable] | Mapping[Hashable, object], seeds: Sequence[int],
              build_row: Callable[[object, int, object], dict], out: str | Path | None = None,
              resume: bool = False, *,
              study: StudyFile, keys: Sequence[str], record: Mapping | None = None, progress: bool = True,
              desc: str = "study", start_seed: Callable[[int], object] | None = None, order: str = "seed",
              row_id: Callable[[object, int], tuple] = lambda row, seed: (row, seed),
              after_row: Callable[[int, int], None] | None = None) -> StudyFile:
    """Run ``build_row(row, seed, context)`` for every row and seed that ``study`` lacks, and return the study.

    Chapter 09 introduces it with CRLT-DD's Table III; chapters 04, 08, 11 and 12 run their experiments on it too.
    It owns what every experiment over rows and seeds needs:

    * the settings check: with ``out`` and ``resume=True`` an existing file is continued (its rows are kept and
      skipped, its seeds joined) unless its ``keys`` settings differ from ``study.settings``, a ``ValueError``;
    * ``record`` (provenance: command, commit, machine) added to the settings after that check;
    * the loop, ``order="seed"``: every row of a seed, then the next seed, with ``start_seed(seed)`` built once
      per seed and passed to ``build_row`` as ``context`` (what a seed's rows share: experts, an encoder, a
      distilled set); ``order="row"``: every seed of a row, then the next row (``context`` is ``None``);
    * after every row, an atomic save of ``out`` that first merges rows other processes wrote
      (:meth:`~ltdd.studies.study.StudyFile.save`), and ``after_row(done, left)`` if given;
    * a progress bar (``desc``) that counts rows, the ones a resume skips included.

    ``row_id(row, seed)`` is the identity :meth:`~ltdd.studies.study.StudyFile.has` looks for (default
    ``(row, seed)``: a label and a seed).
    """
    if order not in ORDERS:
        raise ValueError(f"order must be one of {ORDERS}, got {order!r}")
    rows, seeds = list(rows), check_seeds(seeds)
    if out is not None and resume and Path(out).is_file():
        resume_from(study, out, keys)
    study.settings.update(record or {})
    jobs = [(row, seed) for seed in seeds for row in rows] if order == "seed" else \
        [(row, seed) for row in rows for seed in seeds]
    to_run = sum(not study.has(row_id(row, seed)) for row, seed in jobs)
    bar = tqdm(total=len(jobs), desc=desc, disable=not progress)
    contexts: dict[int, object] = {}
    run = 0
    for row, seed in jobs:
        bar.set_postfix_str(f"seed {seed}: {row}")
        if not study.has(row_id(row, seed)):
            if order == "seed" and start_seed is not None and seed not in contexts:
                contexts.clear()  # one seed's shared state at a time
                contexts[seed] = start_seed(seed)
            study.rows.append(build_row(row, seed, contexts.get(seed)))
            if out is not None:
                study.save(out, keys)
            run += 1
            if after_row is not None:
                after_row(run, to_run - run)
        bar.update()
    bar.close()
    return study
