"""The long-tail effect study: a long-tailed set against a balanced subset of the same size."""

import json

import pytest
import torch

from ltdd.cli import main
from ltdd.data import load_dataset
from ltdd.studies.longtail_effect import (BALANCED_SUBSET, LONG_TAILED, balanced_subset, longtail_effect,
                                          weight_norm_slope)
from ltdd.studies.rebalance import RebalanceStudy


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", download=False)


def test_balanced_subset_has_equal_classes_and_depends_on_the_seed(digits):
    first, again, other = (balanced_subset(digits, 30, seed) for seed in (0, 0, 1))
    assert first.train.class_counts(10) == [30] * 10
    assert torch.equal(first.train.images, again.train.images)
    assert not torch.equal(first.train.images, other.train.images)
    assert torch.equal(first.test.images, digits.test.images)
    smallest = min(digits.train.class_counts(10))
    with pytest.raises(ValueError, match="per_class"):
        balanced_subset(digits, smallest + 1, 0)
    with pytest.raises(ValueError, match="per_class must be a positive int"):
        balanced_subset(digits, 0, 0)


def test_study_rows_sizes_groups_norms_and_resume(digits, tmp_path):
    out = tmp_path / "study.json"
    study = longtail_effect(digits, 10, epochs=1, seeds=[0], out=out, progress=False)
    lt, bal = (next(row for row in study.rows if row["label"] == label) for label in (LONG_TAILED, BALANCED_SUBSET))
    counts = study.settings["counts"]
    assert counts[0] / counts[-1] == pytest.approx(10, rel=0.05)  # β = 10: head over tail
    assert lt["size"]["images"] == sum(counts)
    assert bal["size"]["images"] == 10 * (sum(counts) // 10)  # the same size, balanced
    assert len(lt["weight_norms"]) == 10 and all(n > 0 for n in lt["weight_norms"])
    assert set(lt["groups"]["shots"]) <= {"many", "medium", "few"}
    written = json.loads(out.read_text())
    assert len(written["rows"]) == 2
    # resume with a new seed runs only that seed's rows; other settings are refused
    study = longtail_effect(digits, 10, epochs=1, seeds=[0, 1], out=out, resume=True, progress=False)
    assert sorted((row["label"], row["seed"]) for row in study.rows) == sorted(
        (label, seed) for label in (LONG_TAILED, BALANCED_SUBSET) for seed in (0, 1))
    assert study.rows[0] == written["rows"][0]
    with pytest.raises(ValueError, match="other settings: epochs"):
        longtail_effect(digits, 10, epochs=2, seeds=[0], out=out, resume=True, progress=False)


def test_weight_norm_slope_sign():
    counts = [100, 50, 20, 10]
    rows = [{"label": "x", "seed": 0, "weight_norms": [4.0, 3.0, 2.0, 1.0]},
            {"label": "y", "seed": 0, "weight_norms": [1.0, 2.0, 3.0, 4.0]}]
    study = RebalanceStudy(rows, {"counts": counts})
    assert weight_norm_slope(study, "x") > 0 > weight_norm_slope(study, "y")  # norms grow with the count for x


def test_cli_longtail_effect(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["longtail-effect", "--dataset", "digits", "--imbalance", "10", "--epochs", "1", "--out",
                 str(out), "--profile", "smoke", "--quiet"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["rows"] == 2 and set(summary["accuracy"]) == {LONG_TAILED, BALANCED_SUBSET}
    recorded = json.loads((out / "study.json").read_text())["settings"]
    assert recorded["command"].startswith("python -m ltdd longtail-effect") and recorded["imbalance"] == 10.0
