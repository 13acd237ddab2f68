"""Every Markdown table of the library goes through ltdd.markdown.markdown_table; the tables read as they did when
each module joined its own pipes (the expected text below is what those hand-built versions printed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ltdd.studies.comparison import comparison_table
from ltdd.distill.tm_presets import preset_table
from ltdd.features import feature_gap_table
from ltdd.studies.rebalance import RebalanceStudy, study_table
from ltdd.reference import biased_dd_table_2, crlt_dd_table, ltdd_table, paper_table
from ltdd.studies.tm_study import ablation_table
from ltdd.markdown import markdown_table

RECORDED = Path(__file__).resolve().parent.parent / "data" / "reference"


def test_markdown_table_escapes_pipes_and_aligns_columns():
    assert markdown_table(["a", "b"], [["x|y", "1\n2"]]) == "| a | b |\n|---|---|\n| x\\|y | 1 2 |"
    assert markdown_table(["a", "n"], [["x", 3]], align="lr") == "| a | n |\n|---|---:|\n| x | 3 |"
    with pytest.raises(ValueError, match="align must give one of 'l', 'r', 'c' for each of the 2 columns"):
        markdown_table(["a", "n"], [], align="l")


def test_feature_gap_table_keeps_its_right_aligned_numbers():
    gaps = {"DM": {"mean_gap": 0.123456, "cov_gap": 1.5e-5}, "random": {"mean_gap": 2, "cov_gap": 0}}
    assert feature_gap_table(gaps) == (
        "| synthetic set | mean gap ‖μ_r − μ_s‖² | covariance gap ‖Σ_r − Σ_s‖²_F / d |\n"
        "|---|---:|---:|\n"
        "| DM | 0.123 | 1.5e-05 |\n"
        "| random | 2 | 0 |")


def test_paper_tables_read_as_before():
    # values typed from the papers: Biased-DD Table 2 (DM, IPC 50), LTDD Table 1 and Fig. 6a
    assert biased_dd_table_2().splitlines()[:3] == [
        "| dataset, bias ratio | severity 1 | 2 | 3 | 4 |", "|---|---|---|---|---|",
        "| CMNIST-DD, BR = 0 % | 97.28 ± 0.09 | 97.46 ± 0.07 | 97.41 ± 0.01 | 97.42 ± 0.02 |"]
    lines = ltdd_table().splitlines()
    assert lines[:3] == ["| method | IPC 10 | IPC 20 | IPC 50 |", "|---|---|---|---|",
                         "| Random | 34.4 | 41.4 | 52.6 |"]
    assert lines[3:5] == ["| K-Center Greedy | 16.2 | 19.0 | 24.2 |", "| Graph-Cut | 22.9 | 26.0 | 33.3 |"]
    assert lines[8] == "| IDM | 49.8 | 50.9 | 53.1 |" and lines[11] == "| LTDD | 53.4 | 58.2 | 64.0 |"
    assert lines[12] == "| full long-tailed set | 66.2 |  |  |"  # was "| | |": the same empty cells
    assert lines[13:] == ["", "| ablation (Fig. 6a: β = 200, IPC 50) | accuracy |", "|---|---|", "| base | 43.8 |",
                         "| +DAM | 58.1 |", "| +DAM+ED | 62.6 |"]
    table = crlt_dd_table(ours={"vanilla": {10: 50.0, 100: 31.25}}).splitlines()
    assert table[0] == "| row | β = 10 | β = 50 | β = 100 | source |"
    assert table[2] == "| vanilla (paper) | 71.63 | 57.29 | 51.20 | CRLT-DD Table III |"
    assert table[-1] == "| vanilla (this book) | 50.00 | – | 31.25 | measured |"
    table = paper_table(["dm"], ours={"dm": {1: 26.0, 10: 48.9}}).splitlines()
    assert table[0] == "| method | IPC 1 | IPC 10 | IPC 50 | source |"
    assert table[3] == "| dm (this book) | 26.0 | 48.9 | – | measured |"
    row = preset_table("mtt").splitlines()[2]
    assert row == ("| mtt | cifar10 | – | 1 | convnet | 50 | 2 | [0, 2) | 100 | 1e-07 | 0.01 | – | hard | all | – | – "
                   "| exact | yes | 5000 |  |")


def test_study_tables_read_as_before():
    tm = ablation_table(RebalanceStudy.load(RECORDED / "tm_ablation_digits_lt_cpu.json")).splitlines()
    assert tm[:3] == ["| row | overall | head half | tail half | learned α | seeds |", "|---|---|---|---|---|---|",
                      "| MTT | 92.9 ± 0.4 | 96.8 ± 0.3 | 88.8 ± 0.8 | 0.0463 | 3 |"]
    rebalance = study_table(RebalanceStudy.load(RECORDED / "rebalance_digits_lt_cpu.json")).splitlines()
    assert rebalance[0] == "| row | overall | head half | tail half | images | % of LT set | seeds |"
    assert rebalance[2] == "| vanilla | 97.16 ± 0.38 | 99.62 ± 0.00 | 94.60 ± 0.77 | 494 | 100.0 | 3 |"
    compare = comparison_table(RebalanceStudy.load(RECORDED / "comparison_digits_lt_cpu.json")).splitlines()
    assert compare[2] == "| random | coreset | 94.3 ± 1.1 | 100.0 ± 0.0 | 95.7 ± 1.3 | 86.7 ± 2.3 | 100 | 3 |"


def test_no_library_module_joins_table_pipes_by_hand():
    root = Path(__file__).resolve().parent.parent / "ltdd"
    offenders = [str(p.relative_to(root)) for p in root.rglob("*.py")
                 if p.name != "viz.py" and ('"---|"' in p.read_text() or '"|---|' in p.read_text())]
    assert not offenders, offenders
