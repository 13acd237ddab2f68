"""Each chapter's time budget (ltdd.budget): the cpu profile's 10 minutes, the checks that stop a chapter with a
message naming it, the projection that stops a long loop early, and the hook compare_methods calls."""

import pytest

from ltdd import budget as budget_module
from ltdd.budget import (BUDGET_ENV, ChapterBudget, ChapterBudgetExceeded, budget_seconds, chapter_budget)
from ltdd.studies.comparison import compare_methods
from ltdd.config import get_profile
from ltdd.data import load_dataset


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_the_cpu_profile_has_ten_minutes_and_the_others_none(monkeypatch):
    monkeypatch.delenv(BUDGET_ENV, raising=False)
    # The bar (issue 19): every chapter within 10 minutes on 2 cores under `cpu`.
    assert budget_seconds(get_profile("cpu")) == 600
    assert budget_seconds(get_profile("smoke")) is None
    assert budget_seconds(get_profile("gpu")) is None


@pytest.mark.parametrize("value, seconds", [("90", 90.0), ("0", None), (" 12.5 ", 12.5)])
def test_the_environment_overrides_the_profile(monkeypatch, value, seconds):
    monkeypatch.setenv(BUDGET_ENV, value)
    assert budget_seconds(get_profile("cpu")) == seconds


@pytest.mark.parametrize("value", ["ten", "-5"])
def test_a_bad_environment_value_is_refused_by_name(monkeypatch, value):
    monkeypatch.setenv(BUDGET_ENV, value)
    with pytest.raises(ValueError, match=BUDGET_ENV):
        budget_seconds(get_profile("cpu"))


def test_check_passes_within_the_budget_and_names_chapter_and_profile_past_it():
    clock = FakeClock()
    budget = ChapterBudget("12", "cpu", 600, clock=clock)
    clock.now += 599
    budget.check()
    clock.now += 2
    with pytest.raises(ChapterBudgetExceeded, match=r"chapter 12 has run 10 min 1 s, past its budget of 10 min under the 'cpu'"):
        budget.check()


def test_require_refuses_a_step_that_would_end_past_the_budget():
    clock = FakeClock()
    budget = ChapterBudget("05", "cpu", 600, clock=clock)
    clock.now += 300
    budget.require(299, "training")
    with pytest.raises(ChapterBudgetExceeded, match=r"would need about 5 min 1 s more for training \(after 5 min\).*fewer epochs"):
        budget.require(301, "training", "use fewer epochs")


def test_watch_projects_from_the_parts_done_and_stops_early():
    clock = FakeClock()
    budget = ChapterBudget("12", "cpu", 600, clock=clock)
    after = budget.watch("the live comparison")
    clock.now += 100
    after(1, 4)  # 100 s per part, 400 s left to run: 500 s of 600, fine
    clock.now += 100
    after(2, 3)  # 600 s by the end: still exactly within
    clock.now += 200  # a slow part: 133 s per part so far, 400 + 267 s > 600
    with pytest.raises(ChapterBudgetExceeded, match="remaining 2 part"):
        after(3, 2)
    with pytest.raises(ValueError, match="done must be"):
        after(0, 1)


def test_no_budget_never_stops():
    clock = FakeClock()
    budget = ChapterBudget("12", "gpu", None, clock=clock)
    clock.now += 10 ** 6
    budget.check()
    budget.require(10 ** 6, "anything")
    budget.watch("anything")(1, 10 ** 6)
    with pytest.raises(ValueError, match="seconds must be positive"):
        ChapterBudget("12", "cpu", 0)


def test_every_later_cell_checks_the_budget_in_ipython(monkeypatch):
    interactive = pytest.importorskip("IPython.core.interactiveshell")
    shell = interactive.InteractiveShell.instance()
    monkeypatch.setenv(BUDGET_ENV, "600")
    try:
        budget = chapter_budget("07", get_profile("cpu"))
        assert shell.run_cell("x = 1").success
        budget.started -= 601  # ten minutes and a second later
        result = shell.run_cell("x = 2")
        assert isinstance(result.error_in_exec, ChapterBudgetExceeded)
        assert "chapter 07" in str(result.error_in_exec) and shell.user_ns["x"] == 1  # the cell did not run
        budget.started += 601  # back within the budget: cell magics and __future__ imports still work
        assert shell.run_cell("%%capture\nx = 3").success and shell.user_ns["x"] == 3
        assert shell.run_cell("from __future__ import annotations\nx = 4").success and shell.user_ns["x"] == 4
    finally:
        shell.input_transformers_post.remove(budget_module._prepend_check)
        budget_module._ACTIVE = None
        interactive.InteractiveShell.clear_instance()


def test_compare_methods_reports_every_row_it_runs(tmp_path):
    dataset = load_dataset("digits-lt", imbalance=10)
    profile = get_profile("smoke").replace(eval_epochs=1, eval_seeds=1, iterations=1)
    calls = []
    rows = {"random": {"method": "random"}, "DM": {"method": "dm"}}
    out = tmp_path / "study.json"
    compare_methods(dataset, profile, [0], rows=rows, out=out, progress=False,
                    after_row=lambda done, left: calls.append((done, left)))
    assert calls == [(1, 1), (2, 0)]
    calls.clear()  # resumed with a second seed: only the new seed's rows run, and are counted
    compare_methods(dataset, profile, [0, 1], rows=rows, out=out, resume=True, progress=False,
                    after_row=lambda done, left: calls.append((done, left)))
    assert calls == [(1, 1), (2, 0)]
