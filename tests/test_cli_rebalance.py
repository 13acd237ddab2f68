"""``python -m ltdd rebalance``: CRLT-DD's plans from the command line, the study file, clear errors."""

from __future__ import annotations

import json

import pytest

from ltdd.cli import main

pytestmark = pytest.mark.usefixtures("one_thread")


def rebalance(*args: str) -> int:
    return main(["rebalance", *args, "--quiet", "--iterations", "2", "--networks", "1"])


def test_rebalance_writes_the_rows_with_provenance(smoke, capsys):
    assert rebalance("distill-head", "vanilla", "--dataset", "digits-lt", "--imbalance", "10", "--out", "R") == 0
    study = json.loads((smoke / "R" / "study.json").read_text())
    assert [row["label"] for row in study["rows"]] == ["distill head", "vanilla"]
    head = study["rows"][0]
    assert head["size"]["plan"] == "distill-head" and head["size"]["images"] == 296  # 5 x 38 + 106
    assert set(head["groups"]) == {"shots", "halves"} and len(head["per_class"]) == 10
    assert study["settings"]["command"].startswith("python -m ltdd rebalance distill-head")
    assert study["settings"]["imbalance"] == 10 and study["settings"]["profile"] == "smoke"
    assert "| distill head |" in (smoke / "R" / "table.md").read_text()
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(summary["accuracy"]) == {"distill head", "vanilla"}


def test_simclr_flag_labels_the_rows(smoke):
    assert rebalance("sample-all", "--simclr", "--simclr-epochs", "1", "--out", "S") == 0
    study = json.loads((smoke / "S" / "study.json").read_text())
    assert study["rows"][0]["label"] == "sample all + SimCLR" and len(study["simclr"]["0"]) == 1


@pytest.mark.parametrize(("args", "message"), [
    (["distill-tail"], "plan='distill-tail' is unknown"),
    (["distill-head", "--imbalance", "0.5"], "imbalance must be a finite number >= 1"),
    (["distill-head", "--ipc", "500"], "ipc=500 needs more images than class"),
    (["distill-all", "--dataset", "digits"], "must be a long-tailed set"),
    (["table-iii", "--simclr"], "does not combine with table-iii"),
])
def test_bad_input_is_a_clear_error(smoke, capsys, args, message):
    assert rebalance(*args, "--out", "E") == 2
    assert message in capsys.readouterr().err


def test_vanilla_protocol_flag_reaches_the_study(smoke, monkeypatch):
    import ltdd.studies.rebalance as rebalance_module

    seen = {}
    real = rebalance_module.vanilla_config

    def recording(protocol, settings):
        seen["protocol"] = protocol
        return real(protocol, settings)

    monkeypatch.setattr(rebalance_module, "vanilla_config", recording)
    monkeypatch.setattr(rebalance_module, "evaluate_rebalanced",
                        lambda rebalanced, dataset, profile, seed, encoder, config=None, networks=None:
                        (seen.setdefault("config", config) and None) or _fake_report(dataset))
    assert rebalance("vanilla", "--vanilla-protocol", "baseline.py", "--out", "V") == 0
    assert seen["protocol"] == "baseline.py" and seen["config"].epochs == 300
    study = json.loads((smoke / "V" / "study.json").read_text())
    assert study["settings"]["vanilla_protocol"] == "baseline.py"


def _fake_report(dataset):
    from ltdd.studies.rebalance import long_tail_groups
    from ltdd.train import EvaluationReport

    counts = dataset.train.class_counts(dataset.num_classes)
    per_class = [0.5] * dataset.num_classes
    report = EvaluationReport("convnet", 1, [0], [0.5], [per_class], len(dataset.train))
    return report, long_tail_groups(per_class, counts)


def test_eval_epochs_flag_sets_every_evaluation(smoke):
    assert rebalance("sample-all", "--eval-epochs", "3", "--out", "T") == 0
    study = json.loads((smoke / "T" / "study.json").read_text())
    assert study["settings"]["eval_epochs"] == 3
    assert rebalance("sample-all", "--eval-epochs", "0", "--out", "U") == 2
    assert rebalance("sample-all", "--eval-epochs", "3", "--profile", "paper", "--out", "V") == 2
