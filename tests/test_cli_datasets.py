"""The command line on long-tailed and biased datasets: counts without images, options, errors."""

import json

import pytest

from ltdd.cli import main
from ltdd.data import load_dataset, shot_groups
from ltdd.train import EvaluationReport

pytestmark = pytest.mark.usefixtures("one_thread")


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_counts_only_prints_the_reference_counts_without_images(capsys):
    code, out, _ = run(capsys, "data", "cifar100-lt", "--imbalance", "100", "--counts-only")
    summary = json.loads(out.splitlines()[-1])
    assert code == 0 and summary["total"] == 10847 and len(summary["per_class"]) == 100
    code, out, _ = run(capsys, "data", "cifar10-lt", "--imbalance", "200", "--counts-only")
    assert json.loads(out.splitlines()[-1])["total"] == 11203


def test_data_summary_of_a_biased_set_reports_the_biased_rate(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("LTDD_DATA_ROOT", str(tmp_path))
    code, out, _ = run(capsys, "data", "cdigits", "--bias-ratio", "0.8", "--severity", "2")
    summary = json.loads(out.splitlines()[-1])
    assert code == 0 and summary["image_shape"] == [3, 16, 16]
    assert summary["options"] == {"bias_ratio": 0.8, "severity": 2}
    assert summary["bias"]["test"]["aligned"] == 0
    assert abs(summary["bias"]["train"]["biased_rate"] - 0.8) < 0.01


@pytest.mark.parametrize("argv, named", [
    (["data", "cifar10-lt", "--imbalance", "0.5", "--counts-only"], "imbalance"),
    (["data", "cdigits", "--bias-ratio", "1.5"], "bias_ratio"),
    (["data", "cdigits", "--severity", "5"], "severity"),
    (["data", "digits", "--imbalance", "10"], "imbalance"),
])
def test_bad_dataset_options_are_errors_naming_the_argument(capsys, argv, named):
    code, _, err = run(capsys, *argv)
    assert code == 2 and named in err


def test_distill_records_dataset_options_and_evaluate_reuses_them(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("LTDD_PROFILE", "smoke")
    out_dir = tmp_path / "R"
    code, _, _ = run(capsys, "distill", "random", "--dataset", "digits-lt", "--imbalance", "10", "--ipc", "5",
                     "--out", str(out_dir), "--quiet")
    assert code == 0
    record = json.loads((out_dir / "run.json").read_text())
    assert record["config"]["dataset_options"] == {"imbalance": 10.0}
    code, out, _ = run(capsys, "evaluate", str(out_dir), "--seeds", "1", "--epochs", "1", "--quiet")
    assert code == 0 and json.loads(out.splitlines()[-1])["dataset"] == "digits-lt"


def test_report_groups_per_class_accuracy_by_shot():
    digits_lt = load_dataset("digits-lt", imbalance=10, device="cpu")
    groups = shot_groups(digits_lt.train.class_counts(10), many=60, few=20)
    report = EvaluationReport("convnet", 1, [0], [0.5], [[1.0] * 3 + [0.5] * 4 + [0.0] * 3], 10)
    by_group = report.group_accuracy(groups)
    assert set(by_group) <= {"many", "medium", "few"}
    assert by_group["many"] == 1.0 and by_group["few"] == 0.0
