"""Each chapter's time budget: under the ``cpu`` profile a chapter must finish within 10 minutes on 2 cores, so
that the published build (``LTDD_PROFILE=cpu jupyter-book build .``) finishes; long experiments live in the
recorded files of ``data/reference/`` and the command line.

A chapter starts its clock in its set-up cell with :func:`chapter_budget`. From then on

* every later cell first checks the clock (an IPython input transformer adds the check, the cell's text is
  unchanged), so a chapter that ran past its budget stops at the next cell with a message that names the
  chapter, the profile and the budget, instead of running on into the build's cell timeout;
* a long loop can ask before it runs on: :meth:`ChapterBudget.watch` returns a callback for "k of n parts done"
  that projects the remaining time from the parts finished so far and stops as soon as the projection overruns
  (:func:`ltdd.studies.comparison.compare_methods` calls it after every row).

Budgets: 600 s under ``cpu``; none under ``smoke`` (CI times every notebook itself), ``gpu`` and ``paper``.
``LTDD_CHAPTER_BUDGET`` (seconds; ``0`` for none) overrides the profile's.
"""

from __future__ import annotations

import os
import time
from typing import Callable

from .config import Profile, get_profile

BUDGET_ENV = "LTDD_CHAPTER_BUDGET"
CHAPTER_BUDGET_S: dict[str, float | None] = {"smoke": None, "cpu": 600.0, "gpu": None, "paper": None}
"""Profile → seconds a chapter may run (the issue's bar for the published ``cpu`` build: 10 minutes on 2 cores)."""


def _duration(seconds: float) -> str:
    """"45 s" under two minutes, "10 min" or "10 min 1 s" above."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min" + (f" {rest} s" if rest else "")


class ChapterBudgetExceeded(RuntimeError):
    """A chapter ran, or is about to run, past its time budget. Machinery behind chapter 00."""


class ChapterBudget:
    """The time one chapter may still take, counted from when the budget is made.

    ``seconds=None`` is no budget: every check passes. ``clock`` (seconds, monotonic) is there for tests.

    Machinery behind chapter 00.
    """

    def __init__(self, chapter: str, profile: str, seconds: float | None,
                 clock: Callable[[], float] = time.monotonic):
        if seconds is not None and not seconds > 0:
            raise ValueError(f"seconds must be positive or None (no budget), got {seconds!r}")
        self.chapter, self.profile, self.seconds, self._clock = chapter, profile, seconds, clock
        self.started = clock()

    @property
    def elapsed(self) -> float:
        """Seconds since the budget was made."""
        return self._clock() - self.started

    @property
    def remaining(self) -> float:
        """Seconds left (``inf`` without a budget; negative once overrun)."""
        return float("inf") if self.seconds is None else self.seconds - self.elapsed

    def _fail(self, what: str, shorten: str) -> None:
        hint = f" To run it anyway, {shorten}, or" if shorten else " To run it anyway,"
        raise ChapterBudgetExceeded(
            f"chapter {self.chapter} {what}, past its budget of {_duration(self.seconds)} under the "
            f"{self.profile!r} profile.{hint} set {BUDGET_ENV}=0 (no budget) or a number of seconds.")

    def check(self) -> None:
        """Raise :class:`ChapterBudgetExceeded` if the chapter has already run past its budget."""
        if self.remaining < 0:
            self._fail(f"has run {_duration(self.elapsed)}", "")

    def require(self, seconds: float, what: str, shorten: str = "") -> None:
        """Raise before a step expected to take ``seconds`` starts, if it would end past the budget."""
        if seconds > self.remaining:
            self._fail(f"would need about {_duration(seconds)} more for {what} (after {_duration(self.elapsed)})",
                       shorten)

    def watch(self, what: str, shorten: str = "") -> Callable[[int, int], None]:
        """A callback ``after(done, left)`` for a step made of similar parts: after ``done`` parts, with ``left``
        still to run, it raises as soon as the mean time per part so far says the rest would overrun."""
        step_started = self._clock()

        def after(done: int, left: int) -> None:
            if done < 1 or left < 0:
                raise ValueError(f"done must be >= 1 and left >= 0, got done={done!r}, left={left!r}")
            per_part = (self._clock() - step_started) / done
            self.check()
            self.require(per_part * left, f"the remaining {left} part(s) of {what} ({per_part:.0f} s each so far)",
                         shorten)

        return after


_ACTIVE: ChapterBudget | None = None


def _check_active() -> None:
    if _ACTIVE is not None:
        _ACTIVE.check()


def _prepend_check(lines: list[str]) -> list[str]:
    """IPython input transformer: every cell starts by checking the active chapter's budget (a cell that opens
    with a ``from __future__`` import, which must come first, is left as it is)."""
    first = next((line.strip() for line in lines if line.strip()), "")
    if first.startswith("from __future__"):
        return lines
    return ["__import__('ltdd.budget').budget._check_active()\n", *lines]


def budget_seconds(profile: Profile) -> float | None:
    """``$LTDD_CHAPTER_BUDGET`` when set (``0``: none), else the profile's :data:`CHAPTER_BUDGET_S`.

    Machinery behind chapter 00."""
    value = os.environ.get(BUDGET_ENV, "").strip()
    if not value:
        return CHAPTER_BUDGET_S.get(profile.name)
    try:
        seconds = float(value)
    except ValueError:
        raise ValueError(f"${BUDGET_ENV}={value!r} is not a number of seconds (0: no budget)") from None
    if seconds < 0:
        raise ValueError(f"${BUDGET_ENV}={value!r} must be >= 0 seconds (0: no budget)")
    return seconds or None


def chapter_budget(chapter: str, profile: Profile | None = None) -> ChapterBudget:
    """Start chapter ``chapter``'s clock (its budget from :func:`budget_seconds`) and, in IPython, check it at
    the start of every later cell. Calling it again restarts the clock (running a notebook twice in one kernel).

    Introduced in chapter 00."""
    global _ACTIVE
    profile = profile or get_profile()
    _ACTIVE = ChapterBudget(str(chapter), profile.name, budget_seconds(profile))
    try:
        from IPython import get_ipython
    except ImportError:  # plain Python: only the explicit checks
        return _ACTIVE
    shell = get_ipython()
    if shell is not None and _prepend_check not in shell.input_transformers_post:
        shell.input_transformers_post.append(_prepend_check)
    return _ACTIVE


__all__ = ["BUDGET_ENV", "CHAPTER_BUDGET_S", "ChapterBudget", "ChapterBudgetExceeded", "budget_seconds",
           "chapter_budget"]
