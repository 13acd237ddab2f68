"""Study files written before ``ltdd.studies`` (format v1) still load and ``--resume`` continues them.

The fixtures in ``tests/fixtures/study_format_v1/`` were written by the command line at commit 6d1e9c0, before the
four runners moved onto :func:`ltdd.studies.run_study`: ``*_seed0.json`` ran seed 0, ``*_seeds01.json`` ran
seeds 0 and 1 in one go (same settings). Resuming the first with seeds 0,1 must keep seed 0's rows byte for byte
and add seed 1's rows with the numbers the old code computed.
"""

import json
import shutil
from pathlib import Path

import pytest

from ltdd.studies.biased import BiasSweep
from ltdd.cli import main
from ltdd.studies.rebalance import RebalanceStudy
from ltdd.studies import Study

# the fixtures were written with one thread (their settings say so); two threads may sum in another order
pytestmark = pytest.mark.usefixtures("one_thread")

FIXTURES = Path(__file__).parent / "fixtures" / "study_format_v1"

COMMON = ["--profile", "smoke", "--quiet"]
RUNS = {
    "compare": ["compare", "--dataset", "digits-lt", "--imbalance", "10", "--rows", "random,CRLT-DD distill all",
                "--networks", "1", "--eval-epochs", "1", "--iterations", "2", *COMMON],
    "longtail": ["longtail-effect", "--dataset", "digits", "--imbalance", "10", "--epochs", "1", "--networks", "1",
                 *COMMON],
}


def _without_seconds(row: dict) -> dict:
    return {key: value for key, value in row.items() if key != "seconds"}


def _by_id(rows, fields=("label", "seed")) -> dict:
    return {tuple(row[f] for f in fields): _without_seconds(row) for row in rows}


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("*.json")))
def test_a_v1_file_loads_as_the_same_rows_and_settings(name):
    data = json.loads((FIXTURES / name).read_text())
    study = (BiasSweep if name.startswith("bias") else Study).load(FIXTURES / name)
    assert study.rows == data["rows"] and study.settings == data["settings"]
    if not name.startswith("bias"):
        assert isinstance(study, RebalanceStudy) and RebalanceStudy is Study


@pytest.mark.parametrize("run", sorted(RUNS))
def test_resume_continues_a_v1_study_with_the_old_numbers(smoke, run):
    out = smoke / "S"
    out.mkdir()
    shutil.copy(FIXTURES / f"{run}_seed0.json", out / "study.json")
    before = json.loads((out / "study.json").read_text())
    assert main([*RUNS[run], "--seeds", "0,1", "--out", "S", "--resume"]) == 0
    after = json.loads((out / "study.json").read_text())
    expected = json.loads((FIXTURES / f"{run}_seeds01.json").read_text())
    assert after["rows"][:len(before["rows"])] == before["rows"]  # seed 0 kept as it was, seconds included
    assert _by_id(after["rows"]) == _by_id(expected["rows"])  # seed 1: the numbers the old code computed
    assert after["settings"]["seeds"] == [0, 1]


def test_resume_continues_a_v1_bias_sweep_with_the_old_numbers(smoke):
    shutil.copy(FIXTURES / "bias_sweep_seed0.json", smoke / "S.json")
    before = json.loads((smoke / "S.json").read_text())
    argv = ["bias-sweep", "dm", "--ratios", "0.5,0.9", "--iterations", "2", *COMMON]
    assert main([*argv, "--seeds", "0,1", "--out", "S.json", "--resume"]) == 0
    after = json.loads((smoke / "S.json").read_text())
    expected = json.loads((FIXTURES / "bias_sweep_seeds01.json").read_text())
    fields = ("label", "bias_ratio", "severity", "seed")
    assert after["rows"][:len(before["rows"])] == before["rows"] and after["full"] == before["full"]
    assert _by_id(after["rows"], fields) == _by_id(expected["rows"], fields)
