"""ltdd.checks: one wording for argument refusals, used by every module that checks a count or a choice."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

from ltdd.checks import choice, int_in_range, optional_positive_int, positive_int, positive_number, seed_list

LTDD = Path(__file__).resolve().parent.parent / "ltdd"


@pytest.mark.parametrize("value", [1, 7, np.int64(3)])
def test_positive_int_returns_what_it_accepts(value):
    assert positive_int("ipc", value) is value


@pytest.mark.parametrize("value", [0, -2, 1.0, "3", True, None])
def test_positive_int_names_the_argument_and_the_value(value):
    with pytest.raises(ValueError, match=rf"^ipc must be a positive int, got {value!r}$"):
        positive_int("ipc", value)


def test_optional_positive_int_allows_none_only_besides_positive_ints():
    assert optional_positive_int("net_width", None) is None
    assert optional_positive_int("net_width", 64) == 64
    with pytest.raises(ValueError, match="net_width must be None or a positive int, got 0"):
        optional_positive_int("net_width", 0)


def test_int_in_range_states_the_range():
    assert int_in_range("seed", 0, minimum=0, maximum=9) == 0
    with pytest.raises(ValueError, match=r"experts must be an int in \[1, 2\], got 3"):
        int_in_range("experts", 3, 1, 2)
    with pytest.raises(ValueError, match="n_max must be an int >= 1, got False"):
        int_in_range("n_max", False, 1)


@pytest.mark.parametrize("value", [0, -1.5, float("nan"), float("inf"), True, "0.1"])
def test_positive_number_refuses_non_positive_and_non_finite(value):
    with pytest.raises(ValueError, match="lr must be a positive finite number"):
        positive_number("lr", value)
    assert positive_number("lr", None, allow_none=True) is None
    assert positive_number("lr", 0.01) == 0.01


def test_seed_list_expands_a_count_and_keeps_a_list():
    assert seed_list(3) == [0, 1, 2]
    assert seed_list([5, 9]) == [5, 9]
    for bad in (0, [], [1.5], [True]):
        with pytest.raises(ValueError, match="seeds must be"):
            seed_list(bad)


def test_choice_lists_what_is_allowed():
    assert choice("init", "real", ("real", "noise")) == "real"
    with pytest.raises(ValueError, match=r"init='zeros' is not allowed; choose one of \['real', 'noise'\]"):
        choice("init", "zeros", ("real", "noise"))


def test_no_module_imports_a_private_name_from_another_module():
    """Validators and plotting helpers that other modules need are public; a ``from x import _name`` across
    modules (as the matching helpers once were) is what this test refuses."""
    offenders = []
    for path in sorted(LTDD.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                private = [a.name for a in node.names if a.name.startswith("_") and not a.name.startswith("__")]
                if private:
                    offenders.append(f"{path.relative_to(LTDD.parent)}:{node.lineno} {node.module} {private}")
    assert not offenders, offenders
