"""The command line contract: ``python -m ltdd info | data | distill | evaluate`` (smoke profile)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from ltdd.cli import main
from ltdd.config import get_profile
from ltdd.distill import SyntheticSet


def cli_env(**changes: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in {"LTDD_DOWNLOAD", "LTDD_DATA_ROOT"}}
    # one OpenMP thread: the runs are tiny, and two spinning threads on a busy 2-core machine (pytest-xdist,
    # a notebook build beside the tests) make each step many times slower; results do not depend on it
    env.update({"LTDD_PROFILE": "smoke", "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "1"})
    env.update(changes)
    return env


def run_cli(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess:
    env = {"LTDD_DATA_ROOT": str(cwd / "data"), **env}  # never the checkout's data/cache
    return subprocess.run([sys.executable, "-m", "ltdd", *args], cwd=cwd, env=cli_env(**env),
                          capture_output=True, text=True, timeout=300)


pytestmark = pytest.mark.usefixtures("one_thread")


def last_json(stdout: str) -> dict:
    lines = [line for line in stdout.splitlines() if line.strip()]
    assert lines, "no output on stdout"
    return json.loads(lines[-1])


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    """``distill random --dataset digits --ipc 10 --seed 0 --out R`` through the real entry point."""
    cwd = tmp_path_factory.mktemp("cli")
    result = run_cli(["distill", "random", "--dataset", "digits", "--ipc", "10", "--seed", "0", "--out", "R"],
                     cwd)
    assert result.returncode == 0, result.stderr
    return cwd / "R"


# ------------------------------------------------------------------------------------ subprocess: happy path
def test_data_digits_subprocess(tmp_path):
    result = run_cli(["data", "digits"], tmp_path)
    assert result.returncode == 0, result.stderr
    summary = last_json(result.stdout)
    assert summary["name"] == "digits"
    assert summary["num_classes"] == 10
    assert summary["total"] == 1797
    assert len(summary["per_class"]) == 10 and sum(summary["per_class"]) == 1797
    assert summary["train"]["total"] + summary["test"]["total"] == 1797
    assert summary["image_shape"] == [1, 16, 16]


def test_distill_writes_set_and_record(run_dir):
    assert (run_dir / "synthetic.pt").is_file()
    assert (run_dir / "run.json").is_file()
    assert not list(run_dir.glob("*.tmp")) and not list(run_dir.glob(".*.tmp"))
    record = json.loads((run_dir / "run.json").read_text())
    assert record["method"] == "random" and record["dataset"] == "digits"
    assert record["seed"] == 0 and record["profile"] == "smoke"
    assert record["num_images"] == 100
    assert record["class_counts"] == [10] * 10
    assert record["config"]["ipc"] == 10
    synthetic = SyntheticSet.load(run_dir / "synthetic.pt")
    assert synthetic.images.shape == (100, 1, 16, 16)
    assert synthetic.class_counts() == [10] * 10
    assert synthetic.config["dataset"] == "digits"


def test_evaluate_last_line_is_json(run_dir):
    result = run_cli(["evaluate", "R", "--seeds", "3"], run_dir.parent)  # progress bars go to stderr
    assert result.returncode == 0, result.stderr
    report = last_json(result.stdout)
    assert len(report["runs"]) == 3
    assert report["seeds"] == [0, 1, 2]
    assert len(report["per_class"]) == 10
    assert all(0.0 <= a <= 1.0 for a in report["per_class"])
    assert report["mean"] == pytest.approx(sum(report["runs"]) / 3)
    spread = math.sqrt(sum((r - report["mean"]) ** 2 for r in report["runs"]) / 3)
    assert report["std"] == pytest.approx(spread)
    assert report["mean"] > 0.3  # 100 real digits train far above chance (0.1) even in the smoke profile
    assert report["train_size"] == 100
    assert report["dataset"] == "digits" and report["profile"] == "smoke"
    assert report["epochs"] == get_profile("smoke").eval_epochs


def test_info_subprocess(tmp_path):
    result = run_cli(["info"], tmp_path)
    assert result.returncode == 0, result.stderr
    info = last_json(result.stdout)
    assert info["profile"]["name"] == "smoke"
    assert "digits" in info["datasets"] and "random" in info["methods"] and "convnet" in info["models"]
    assert info["download_allowed"] is False
    assert info["data_root"] == str(tmp_path / "data")


# ------------------------------------------------------------------------------------- subprocess: errors
def test_unknown_dataset_subprocess(tmp_path):
    result = run_cli(["data", "nope"], tmp_path)
    assert result.returncode != 0
    assert "dataset" in result.stderr and "nope" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout.strip() == ""


@pytest.mark.slow  # test_unknown_profile_env_in_process covers it fast
def test_unknown_profile_env_subprocess(tmp_path):
    result = run_cli(["info"], tmp_path, LTDD_PROFILE="bogus")
    assert result.returncode != 0
    assert "profile" in result.stderr and "bogus" in result.stderr and "LTDD_PROFILE" in result.stderr
    assert "Traceback" not in result.stderr


# ------------------------------------------------------------------------------------------- in-process
def test_data_in_process(smoke, capsys):
    assert main(["data", "digits"]) == 0
    summary = last_json(capsys.readouterr().out)
    assert summary["num_classes"] == 10 and summary["total"] == 1797
    assert summary["per_class"] == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]


def test_info_in_process(smoke, capsys):
    assert main(["info"]) == 0
    info = last_json(capsys.readouterr().out)
    assert info["profile"]["name"] == "smoke"
    assert info["data_root"] == str(smoke / "data")
    assert main(["info", "--profile", "cpu"]) == 0
    assert last_json(capsys.readouterr().out)["profile"]["name"] == "cpu"


def test_distill_in_process_is_deterministic(smoke, capsys):
    args = ["distill", "random", "--dataset", "digits", "--ipc", "3", "--seed", "4", "--quiet"]
    assert main([*args, "--out", "A"]) == 0
    assert main([*args, "--out", "B"]) == 0
    assert main([*args[:-2], "5", "--quiet", "--out", "C"]) == 0
    record = last_json(capsys.readouterr().out)
    assert record["seed"] == 5 and record["num_images"] == 30
    a, b, c = (SyntheticSet.load(smoke / d / "synthetic.pt") for d in "ABC")
    assert torch.equal(a.images, b.images)
    assert not torch.equal(a.images, c.images)
    assert json.loads((smoke / "A" / "run.json").read_text())["class_counts"] == [3] * 10


def test_distill_uses_profile_defaults(smoke, capsys):
    assert main(["distill", "random", "--out", "D", "--quiet"]) == 0
    record = last_json(capsys.readouterr().out)
    smoke_profile = get_profile("smoke")
    assert record["dataset"] == smoke_profile.dataset
    assert record["num_images"] == 10 * smoke_profile.ipc
    assert record["iterations"] == 0  # random selection has no iterations


def test_distill_resume_uses_checkpoint(smoke, capsys):
    from ltdd.data import load_dataset
    from ltdd.distill import make_distiller
    from ltdd.files import atomic_save

    saved = make_distiller("random", load_dataset("digits", device="cpu"), seed=7, ipc=3)
    saved.init()
    atomic_save(saved.state_dict(), smoke / "R" / "checkpoint.pt")
    assert main(["distill", "random", "--dataset", "digits", "--ipc", "3", "--seed", "7", "--out", "R",
                 "--resume", "--quiet"]) == 0
    assert "resumed" in capsys.readouterr().err
    resumed = SyntheticSet.load(smoke / "R" / "synthetic.pt")
    assert torch.equal(resumed.images, saved.synthetic.images)
    # another seed does not fit this checkpoint: refused, naming the setting
    assert main(["distill", "random", "--dataset", "digits", "--ipc", "3", "--seed", "0", "--out", "R",
                 "--resume", "--quiet"]) == 2
    assert "seed=7 there, 0 now" in capsys.readouterr().err


def test_evaluate_in_process(smoke, capsys):
    assert main(["distill", "random", "--dataset", "digits", "--ipc", "2", "--out", "E", "--quiet"]) == 0
    capsys.readouterr()
    assert main(["evaluate", "E", "--seeds", "1", "--epochs", "1", "--quiet"]) == 0
    report = last_json(capsys.readouterr().out)
    assert len(report["runs"]) == 1 and len(report["per_class"]) == 10
    assert report["epochs"] == 1 and report["train_size"] == 20
    assert report["path"] == str(Path("E") / "synthetic.pt")
    assert report["model_options"] == {"width": get_profile("smoke").net_width}


def _write_wrong_shape(folder: Path) -> Path:
    labels = torch.arange(10).repeat_interleave(2)
    path = folder / "wrong.pt"
    SyntheticSet(torch.zeros(20, 3, 32, 32), labels, 10, config={"dataset": "digits"}).save(path)
    return path


def _write_not_a_set(folder: Path) -> Path:
    path = folder / "weights.pt"
    torch.save({"weights": torch.zeros(3)}, path)
    return path


ERROR_CASES = {
    # id: (argv builder given the folder, words stderr must contain)
    "unknown_dataset": (lambda f: ["data", "nope"], ["dataset", "nope"]),
    "unknown_dataset_distill": (lambda f: ["distill", "random", "--dataset", "nope", "--out", "X"],
                                ["dataset", "nope"]),
    "unknown_method": (lambda f: ["distill", "nope", "--dataset", "digits", "--out", "X"], ["method", "nope"]),
    "ipc_0": (lambda f: ["distill", "random", "--dataset", "digits", "--ipc", "0", "--out", "X"], ["ipc"]),
    "ipc_1000": (lambda f: ["distill", "random", "--dataset", "digits", "--ipc", "1000", "--out", "X"],
                 ["ipc", "1000", "122"]),
    "negative_iterations": (lambda f: ["distill", "random", "--dataset", "digits", "--ipc", "2",
                                       "--iterations", "-1", "--out", "X"], ["iterations", "-1"]),
    "unknown_model": (lambda f: ["evaluate", str(_write_set(f)), "--model", "nope"], ["model", "nope"]),
    "wrong_shape_set": (lambda f: ["evaluate", str(_write_wrong_shape(f))], ["shape", "digits"]),
    "not_a_set": (lambda f: ["evaluate", str(_write_not_a_set(f))], ["path", "weights.pt"]),
    "missing_set": (lambda f: ["evaluate", str(f / "nowhere")], ["nowhere"]),
    "mnist_missing": (lambda f: ["data", "mnist", "--no-download"], ["MNIST", "train-images-idx3-ubyte"]),
}


def _write_set(folder: Path) -> Path:
    path = folder / "ok.pt"
    labels = torch.arange(10)
    SyntheticSet(torch.zeros(10, 1, 16, 16), labels, 10, config={"dataset": "digits"}).save(path)
    return path


@pytest.mark.parametrize("case", list(ERROR_CASES))
def test_errors_in_process(smoke, capsys, case):
    build, words = ERROR_CASES[case]
    code = main(build(smoke))
    captured = capsys.readouterr()
    assert code == 2
    for word in words:
        assert word in captured.err, captured.err
    assert not (smoke / "X").exists()  # a rejected distillation writes nothing


def test_unknown_profile_env_in_process(smoke, monkeypatch, capsys):
    monkeypatch.setenv("LTDD_PROFILE", "bogus")
    assert main(["data", "digits"]) == 2
    err = capsys.readouterr().err
    assert "profile='bogus'" in err and "LTDD_PROFILE" in err and "smoke" in err


@pytest.mark.parametrize("command", [["info"], ["data", "digits"], ["evaluate", "R"],
                                     ["distill", "random", "--out", "X"]])
def test_unknown_profile_option_is_argparse_error(smoke, capsys, command):
    with pytest.raises(SystemExit) as info:
        main([*command, "--profile", "bogus"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "--profile" in err and "bogus" in err and "smoke" in err


def test_missing_required_arguments(smoke, capsys):
    with pytest.raises(SystemExit) as info:
        main(["distill", "random"])
    assert info.value.code == 2
    assert "--out" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([])


@pytest.mark.slow
@pytest.mark.parametrize("case", list(ERROR_CASES))
def test_errors_subprocess(tmp_path, case):
    build, words = ERROR_CASES[case]
    result = run_cli(build(tmp_path), tmp_path)
    assert result.returncode != 0
    for word in words:
        assert word in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "X").exists()


@pytest.mark.slow
def test_unknown_profile_option_subprocess(tmp_path):
    result = run_cli(["info", "--profile", "bogus"], tmp_path)
    assert result.returncode == 2
    assert "--profile" in result.stderr and "invalid choice" in result.stderr


# ------------------------------------------------------------------------------------------ shared flags
def _subcommands() -> dict:
    import argparse

    from ltdd.cli import build_parser

    action = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


NO_DATA = {"info", "student-edition", "colab-edition", "set-repository"}
STUDIES = {"bias-sweep", "rebalance", "tm-ablation", "compare", "longtail-effect"}


def _flags(parser) -> set[str]:
    return {flag for action in parser._actions for flag in action.option_strings}


def test_every_subcommand_that_loads_data_takes_the_shared_data_flags():
    import inspect

    subcommands = _subcommands()
    assert NO_DATA | STUDIES | {"data", "distill", "evaluate", "experts", "convergence"} == set(subcommands)
    for name, parser in subcommands.items():
        loads = "args.data_root" in inspect.getsource(parser.get_default("func"))
        assert loads == (name not in NO_DATA), name
        if loads:
            assert {"--data-root", "--download", "--no-download", "--profile", "--device"} <= _flags(parser), name


@pytest.mark.parametrize("name, required", [
    ("data", ["digits"]), ("distill", ["dm", "--out", "X"]), ("evaluate", ["X"]),
    ("bias-sweep", ["dm", "--out", "X.json"]), ("rebalance", ["vanilla", "--out", "X"]), ("experts", ["--out", "X"]),
    ("tm-ablation", ["--out", "X"]), ("compare", ["--out", "X"]),
    ("longtail-effect", ["--imbalance", "10", "--out", "X"]),
    ("convergence", ["dm", "--checkpoints", "1,2", "--out", "X"]),
])
def test_data_root_parses_on_every_data_subcommand(name, required):
    from ltdd.cli import build_parser

    args = build_parser().parse_args([name, *required, "--data-root", "/somewhere", "--no-download"])
    assert (args.data_root, args.download) == ("/somewhere", False)


def test_study_subcommands_share_seeds_out_resume_overwrite_quiet():
    from ltdd.cli import build_parser

    for name in sorted(STUDIES):
        assert {"--seeds", "--out", "--resume", "--overwrite", "--quiet"} <= _flags(_subcommands()[name]), name
    args = build_parser().parse_args(["tm-ablation", "--out", "X", "--seeds", "0,1", "--resume", "--quiet"])
    assert (args.seeds, args.out, args.resume, args.overwrite, args.quiet) == ("0,1", "X", True, False, True)


def test_convergence_evaluates_one_run_at_each_checkpoint(smoke, capsys):
    out = smoke / "convergence"
    assert main(["convergence", "dm", "--dataset", "digits", "--checkpoints", "1,2", "--ipc", "2", "--networks",
                 "1", "--eval-epochs", "1", "--out", str(out), "--quiet"]) == 0
    study = json.loads((out / "study.json").read_text())
    assert [row["iterations"] for row in study["rows"]] == [1, 2] and (out / "checkpoint.pt").is_file()
    assert study["settings"]["command"].startswith("python -m ltdd convergence dm")
    assert main(["convergence", "dm", "--checkpoints", "2,1", "--out", str(smoke / "other")]) == 2
    assert "checkpoints must be strictly increasing" in capsys.readouterr().err
    assert main(["convergence", "dm", "--checkpoints", "1,2", "--out", str(out)]) == 2  # holds results
