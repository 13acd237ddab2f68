"""Argument checks shared by the whole package: one wording for every "must be a positive int" refusal.

Each check raises a one-line ``ValueError`` that names the argument, what is allowed and the value it got, and
returns the value unchanged, so a check reads as an assignment::

    ipc = positive_int("ipc", ipc)

``bool`` is never accepted as an int (``True`` is an ``int`` to Python, never a count to a user); NumPy
integers are. Every chapter from chapter 01 on meets these checks when a setting is out of range.

This module imports nothing heavy, so the data layer, the models and the CLI can all use it.
"""

from __future__ import annotations

import math
from numbers import Integral, Real
from typing import Any, Collection


def _is_int(value: Any) -> bool:
    return isinstance(value, Integral) and not isinstance(value, bool)


def positive_int(name: str, value: Any) -> Any:
    """Return ``value`` when it is an int >= 1; otherwise ``ValueError: <name> must be a positive int, got <value>``.

    Machinery behind chapter 01 and every later one."""
    if not _is_int(value) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


def optional_positive_int(name: str, value: Any) -> Any:
    """Like :func:`positive_int`, but ``None`` (meaning "the default") is allowed too. Machinery behind chapter 01."""
    if value is not None and (not _is_int(value) or value < 1):
        raise ValueError(f"{name} must be None or a positive int, got {value!r}")
    return value


def int_in_range(name: str, value: Any, minimum: int, maximum: int | None = None) -> Any:
    """Return ``value`` when it is an int in ``[minimum, maximum]`` (no upper bound when ``maximum`` is None);
    otherwise ``ValueError: <name> must be an int >= <minimum>, got <value>`` (or ``in [minimum, maximum]``).

    Machinery behind chapter 02 (class counts of a long-tailed split)."""
    if not _is_int(value) or value < minimum or (maximum is not None and value > maximum):
        bound = f">= {minimum}" if maximum is None else f"in [{minimum}, {maximum}]"
        raise ValueError(f"{name} must be an int {bound}, got {value!r}")
    return value


def positive_number(name: str, value: Any, allow_none: bool = False) -> Any:
    """Return ``value`` when it is a finite real number > 0 (or ``None`` when ``allow_none``); otherwise a
    ``ValueError`` naming ``name``. Machinery behind chapter 01."""
    if allow_none and value is None:
        return value
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value) or value <= 0:
        allowed = "None or a positive finite number" if allow_none else "a positive finite number"
        raise ValueError(f"{name} must be {allowed}, got {value!r}")
    return value


def seed_list(seeds: Any) -> list[int]:
    """The seeds a repeated run uses: a count ``n`` means seeds ``0 .. n-1``; a non-empty list of ints is taken
    as given. Anything else is a ``ValueError`` naming ``seeds``. Machinery behind chapter 01 (networks trained on
    several seeds)."""
    if _is_int(seeds):
        if seeds < 1:
            raise ValueError(f"seeds must be >= 1, got {seeds}")
        return list(range(seeds))
    seeds_given = list(seeds)
    if not seeds_given or not all(_is_int(s) for s in seeds_given):
        raise ValueError(f"seeds must be a positive count or a non-empty list of ints, got {seeds!r}")
    return seeds_given


def choice(name: str, value: Any, allowed: Collection) -> Any:
    """Return ``value`` when it is one of ``allowed``; otherwise
    ``ValueError: <name>=<value> is not allowed; choose one of [...]``. Machinery behind chapter 01."""
    if value not in allowed:
        raise ValueError(f"{name}={value!r} is not allowed; choose one of {list(allowed)}")
    return value


__all__ = ["choice", "int_in_range", "optional_positive_int", "positive_int", "positive_number", "seed_list"]
