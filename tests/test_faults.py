"""Faults a careless or hostile user meets: bad input gets a clear one-line error, and nothing is lost.

Rerunning into earlier results, two writers of one file, a process killed mid-write, an output that cannot be
written, a run that diverges, a crafted pickle, a damaged expert file, Ctrl-C, and the records a resumed run
keeps. Everything runs on the embedded digits at tiny settings (issue 20).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch

from ltdd.cli import main
from ltdd.distill import SyntheticSet
from ltdd.files import atomic_save, atomic_write_text, check_output_folder, read_json
from ltdd.studies.rebalance import RebalanceStudy

pytestmark = pytest.mark.usefixtures("one_thread")

ROOT = Path(__file__).resolve().parent.parent
SMALL = ["--option", "batch_real=8", "--option", "net_width=8"]


def distill(method: str, out: str, iterations: int, *extra: str) -> int:
    return main(["distill", method, "--dataset", "digits", "--ipc", "2", "--seed", "1", "--out", out,
                 "--iterations", str(iterations), "--quiet", *(SMALL if method != "random" else []), *extra])


def error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err.strip().splitlines()[-1]


# ------------------------------------------------------------------------------- 1: refuse to overwrite
def test_a_rerun_without_resume_keeps_the_earlier_run(smoke, capsys):
    assert distill("dm", "X", 3) == 0
    before = {name: (smoke / "X" / name).read_bytes() for name in ("checkpoint.pt", "synthetic.pt", "run.json")}
    capsys.readouterr()
    assert distill("dm", "X", 1) == 2
    line = error_line(capsys)
    assert "--resume" in line and "--overwrite" in line and "checkpoint.pt" in line
    assert distill("random", "X", 1) == 2
    assert before == {name: (smoke / "X" / name).read_bytes() for name in before}
    assert distill("dm", "X", 3, "--resume", "--overwrite") == 2
    assert "exclude each other" in error_line(capsys)
    # --overwrite replaces the run, and no file of the old one (the DM checkpoint) outlives it
    assert distill("random", "X", 1, "--overwrite") == 0
    assert not (smoke / "X" / "checkpoint.pt").exists()
    assert SyntheticSet.load(smoke / "X" / "synthetic.pt").config["method"] == "random"
    # --resume on a folder whose set has no checkpoint to continue does not replace it either
    assert distill("dm", "X", 3, "--resume") == 2
    assert "no checkpoint.pt" in error_line(capsys)


@pytest.mark.parametrize("argv", [
    ["bias-sweep", "dm", "--out", "S.json"],
    ["rebalance", "vanilla", "--seeds", "0", "--out", "S"],
    ["tm-ablation", "--out", "S"],
    ["compare", "--out", "S"],
])
def test_a_study_rerun_without_resume_keeps_the_earlier_rows(smoke, capsys, monkeypatch, argv):
    path = smoke / ("S.json" if argv[0] == "bias-sweep" else "S/study.json")
    path.parent.mkdir(exist_ok=True)
    path.write_text('{"rows": [1, 2, 3]}')
    monkeypatch.setattr("ltdd.cli.load_dataset", lambda *a, **k: pytest.fail("the study started"))
    assert main([*argv, "--quiet"]) == 2
    assert "--overwrite" in error_line(capsys)
    assert path.read_text() == '{"rows": [1, 2, 3]}'


# ------------------------------------------------------------------------------- 3: outputs checked first
@pytest.mark.parametrize("case", ["a file", "under a file", "synthetic.pt a folder", "sweep file a folder"])
def test_an_unwritable_output_is_refused_before_the_first_iteration(smoke, capsys, monkeypatch, case):
    monkeypatch.setattr("ltdd.cli.load_dataset", lambda *a, **k: pytest.fail("the run started"))
    (smoke / "F").write_text("a file")
    (smoke / "D" / "synthetic.pt").mkdir(parents=True)
    if case == "sweep file a folder":
        assert main(["bias-sweep", "dm", "--out", "D", "--quiet"]) == 2
        assert "is a folder" in error_line(capsys)
        return
    out = {"a file": "F", "under a file": "F/run", "synthetic.pt a folder": "D"}[case]
    assert distill("dm", out, 3) == 2
    assert "--out" in error_line(capsys)


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_output_folder_is_refused(smoke, capsys, monkeypatch):
    monkeypatch.setattr("ltdd.cli.load_dataset", lambda *a, **k: pytest.fail("the run started"))
    (smoke / "RO").mkdir()
    (smoke / "RO").chmod(0o500)
    try:
        assert distill("dm", "RO/run", 3) == 2
        assert "not writable" in error_line(capsys)
    finally:
        (smoke / "RO").chmod(0o700)


def test_the_write_check_is_a_real_write(tmp_path, monkeypatch):
    """Root ignores permission bits, so the check creates a file; here that write fails as on a read-only mount."""
    def refuse(*args, **kwargs):
        raise PermissionError(30, "Read-only file system")

    monkeypatch.setattr("ltdd.files.tempfile.mkstemp", refuse)
    with pytest.raises(ValueError, match="--out .* is not writable.*Read-only file system"):
        check_output_folder(tmp_path / "new")
    assert not (tmp_path / "new").exists()


# ------------------------------------------------------------------------------- 2: atomic writes, two writers
def test_two_writers_and_a_reader_never_collide(tmp_path):
    path = tmp_path / "shared.json"
    atomic_write_text(json.dumps({"writer": -1, "payload": "x" * 20000}), path)
    errors, reads = [], []

    def write(writer: int) -> None:
        try:
            for i in range(150):
                atomic_write_text(json.dumps({"writer": writer, "i": i, "payload": "x" * 20000}), path)
        except Exception as error:  # noqa: BLE001 - any failure is the finding
            errors.append(error)

    def read() -> None:
        while len(reads) < 400:
            try:
                reads.append(json.loads(path.read_text())["writer"])
            except Exception as error:  # noqa: BLE001
                errors.append(error)
                return

    threads = [threading.Thread(target=write, args=(w,)) for w in (0, 1)] + [threading.Thread(target=read)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert [p.name for p in tmp_path.iterdir()] == ["shared.json"]  # no temporary left behind


def test_a_failed_write_keeps_the_old_file_and_leaves_no_litter(tmp_path):
    class Unpicklable:
        def __reduce__(self):
            raise RuntimeError("cannot pickle this")

    path = tmp_path / "state.pt"
    atomic_save({"a": torch.ones(3)}, path)
    before = path.read_bytes()
    with pytest.raises(RuntimeError, match="cannot pickle"):
        atomic_save({"a": torch.zeros(10000), "b": Unpicklable()}, path)
    assert path.read_bytes() == before
    atomic_write_text("{}", tmp_path / "study.json")
    with pytest.raises(UnicodeEncodeError):
        atomic_write_text("a lone surrogate \ud800", tmp_path / "study.json")
    assert (tmp_path / "study.json").read_text() == "{}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.pt", "study.json"]


def test_a_writer_killed_mid_write_leaves_the_last_complete_file(tmp_path):
    path = tmp_path / "study.json"
    script = ("import importlib.util, json\n"  # ltdd/files.py alone: no torch import, the writes start at once
              f"spec = importlib.util.spec_from_file_location('files', {str(ROOT / 'ltdd' / 'files.py')!r})\n"
              "files = importlib.util.module_from_spec(spec); spec.loader.exec_module(files)\n"
              "atomic_write_text = files.atomic_write_text\n"
              f"i = 0\nwhile True:\n    i += 1\n"
              f"    atomic_write_text(json.dumps({{'i': i, 'rows': ['x' * 100] * 20000}}), {str(path)!r})\n")
    process = subprocess.Popen([sys.executable, "-c", script])
    try:
        deadline = time.monotonic() + 60
        while not path.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)
    finally:
        process.kill()
        process.wait()
    data = json.loads(path.read_text())  # never a torn file
    assert data["i"] >= 1 and len(data["rows"]) == 20000


def _study(seed: int, rows: int = 0) -> RebalanceStudy:
    settings = {"dataset": "digits-lt", "method": "dm", "seeds": [seed]}
    return RebalanceStudy([{"label": f"row {i}", "seed": seed} for i in range(rows)], settings)


def test_two_processes_adding_rows_to_one_study_keep_each_others(tmp_path):
    """Two ``rebalance ... --resume`` runs of seeds 0 and 1: each saves after every row; both rows survive."""
    path = tmp_path / "study.json"
    errors = []

    def run(seed: int) -> None:
        try:
            study = _study(seed)
            for i in range(15):
                study.rows.append({"label": f"row {i}", "seed": seed})
                study.save(path, ("dataset", "method"))
        except Exception as error:  # noqa: BLE001
            errors.append(error)

    threads = [threading.Thread(target=run, args=(seed,)) for seed in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    saved = RebalanceStudy.load(path)
    assert sorted((r["seed"], r["label"]) for r in saved.rows) == sorted(
        (seed, f"row {i}") for seed in (0, 1) for i in range(15))
    assert saved.settings["seeds"] == [0, 1]
    other = _study(2, 1)
    other.settings["method"] = "idm"
    with pytest.raises(ValueError, match="other settings: method='dm' there, 'idm' now"):
        other.save(path, ("dataset", "method"))


def test_a_bias_sweep_merges_rows_another_process_wrote(tmp_path):
    from ltdd.studies.biased import SWEEP_KEYS, BiasSweep

    path = tmp_path / "sweep.json"
    row = {"label": "DM", "bias_ratio": 0.5, "severity": 4, "conflicting_test": 0.3}
    first = BiasSweep([{**row, "seed": 0}], [], {"dataset": "cdigits", "seeds": [0]})
    second = BiasSweep([{**row, "seed": 1}], [], {"dataset": "cdigits", "seeds": [1]})
    first.save(path, SWEEP_KEYS)
    second.save(path, SWEEP_KEYS)
    assert sorted(r["seed"] for r in BiasSweep.load(path).rows) == [0, 1]


def test_shards_starting_together_write_one_buffer_record(tmp_path):
    """``experts`` shards: one takes the folder's lock and writes buffer.json, the other then reads it."""
    from ltdd.files import locked

    order = []

    def hold() -> None:
        with locked(tmp_path):
            order.append("first in")
            time.sleep(0.3)
            order.append("first out")

    thread = threading.Thread(target=hold)
    thread.start()
    time.sleep(0.1)
    with locked(tmp_path):
        order.append("second in")
    thread.join()
    assert order == ["first in", "first out", "second in"]
    assert list(tmp_path.iterdir()) == []  # the lock leaves no file


# ------------------------------------------------------------------------------- 4: divergence
def test_a_diverging_run_stops_at_once_and_keeps_its_last_good_checkpoint(smoke, capsys, monkeypatch):
    assert distill("dm", "B", 3, "--option", "lr_img=1e30") == 3
    line = error_line(capsys)
    assert re.search(r"dm diverged at iteration [12] \(", line) and "lr_img=1e+30" in line
    assert not (smoke / "B" / "synthetic.pt").exists()

    from ltdd.distill.dm import DM

    step = DM.step

    def poisoned(self):
        metrics = step(self)
        if self.iteration == 2:  # the fourth step (iteration counts finished steps) turns the images to nan
            self.images.fill_(float("nan"))
        return metrics

    monkeypatch.setattr(DM, "step", poisoned)
    assert distill("dm", "P", 6, "--checkpoint-every", "1") == 3
    assert "diverged at iteration 3" in error_line(capsys)
    state = torch.load(smoke / "P" / "checkpoint.pt", weights_only=True)
    assert state["iteration"] == 2 and torch.isfinite(state["images"]).all()
    assert not (smoke / "P" / "synthetic.pt").exists()


def test_non_finite_sets_are_refused_by_the_set_and_by_evaluate(smoke, capsys):
    images, labels = torch.zeros(10, 1, 16, 16), torch.arange(10)
    with pytest.raises(ValueError, match="non-finite"):
        SyntheticSet(images.clone().fill_(float("nan")), labels, 10)
    with pytest.raises(ValueError, match="soft labels must be finite"):
        SyntheticSet(images, torch.full((10, 10), float("inf")), 10)
    payload = {"format": "ltdd.SyntheticSet", "version": 1, "images": images.clone().fill_(float("nan")),
               "labels": labels, "num_classes": 10, "learned_lr": None, "config": {"dataset": "digits"}, "factor": 1}
    torch.save(payload, smoke / "nan.pt")
    assert main(["evaluate", "nan.pt", "--seeds", "1", "--epochs", "1", "--quiet"]) == 2
    line = error_line(capsys)
    assert "nan.pt" in line and "non-finite" in line
    for change, words in (({"learned_lr": "fast"}, "learned_lr"), ({"images": images.long()}, "floating")):
        torch.save({**payload, "images": images, **change}, smoke / "edited.pt")
        assert main(["evaluate", "edited.pt", "--seeds", "1", "--epochs", "1", "--quiet"]) == 2
        assert words in error_line(capsys)


# ------------------------------------------------------------------------------- 6: nothing executable loads
class Crafted:
    """Unpickling this runs code: it would create ``marker``."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return exec, (f"open({str(self.marker)!r}, 'w').close()",)


def test_a_crafted_pickle_is_refused_by_every_loader(smoke, capsys):
    import pickle

    from ltdd.data.cache import _read
    from ltdd.data.loaders import _unpickle
    from ltdd.distill.experts import ExpertBuffer
    from ltdd.studies.rebalance import RebalancedSet
    from ltdd.ssl import SimCLRResult, SimCLRTrainer

    marker = smoke / "pwned"
    crafted = smoke / "crafted.pt"
    torch.save({"method": "dm", "format": "ltdd.SyntheticSet", "x": Crafted(marker)}, crafted)
    with pytest.raises(ValueError, match="not a readable synthetic-set file"):
        SyntheticSet.load(crafted)
    with pytest.raises(Exception):
        SimCLRResult.load(crafted)
    with pytest.raises(Exception):
        RebalancedSet.load(crafted)
    assert _read(crafted, {}) is None
    dataset = __import__("ltdd.data", fromlist=["load_dataset"]).load_dataset("digits")
    trainer = SimCLRTrainer(dataset.train.images[:8], dataset)
    with pytest.raises(ValueError, match="not a readable SimCLR checkpoint"):
        trainer.resume(crafted)
    (smoke / "R").mkdir()
    (smoke / "R" / "checkpoint.pt").write_bytes(crafted.read_bytes())
    assert distill("dm", "R", 3, "--resume") == 2
    assert "not a readable checkpoint" in error_line(capsys)
    (smoke / "B").mkdir()
    (smoke / "B" / "buffer.json").write_text(json.dumps({"config": {"epochs": 1}, "num_parameters": 4}))
    (smoke / "B" / "expert_000.pt").write_bytes(crafted.read_bytes())
    with pytest.raises(ValueError, match="expert_000.pt is damaged"):
        ExpertBuffer(smoke / "B")
    with open(smoke / "data_batch_1", "wb") as handle:
        pickle.dump({"data": Crafted(marker)}, handle, protocol=2)
    with pytest.raises(ValueError, match="data_batch_1 is not a CIFAR python batch"):
        _unpickle(smoke / "data_batch_1")
    assert not marker.exists()


def test_every_torch_load_in_the_package_is_weights_only():
    for path in (ROOT / "ltdd").rglob("*.py"):
        for call in re.findall(r"torch\.load\([^)]*\)", path.read_text()):
            assert "weights_only=True" in call, f"{path.name}: {call}"


# ------------------------------------------------------------------------------- 7: expert buffers
@pytest.fixture
def buffer(smoke, capsys):
    argv = ["experts", "--dataset", "digits-lt", "--experts", "2", "--out", "rep", "--quiet",
            "--option", "epochs=1", "--option", "batch_size=256"]
    assert main(argv) == 0
    capsys.readouterr()
    return argv


def test_a_truncated_expert_is_named_and_retrained(smoke, capsys, buffer):
    from ltdd.distill.experts import ExpertBuffer

    good = (smoke / "rep" / "expert_001.pt").read_bytes()
    (smoke / "rep" / "expert_001.pt").write_bytes(good[: len(good) // 2])
    with pytest.raises(ValueError, match=r"expert_001.pt is damaged or incomplete"):
        ExpertBuffer(smoke / "rep")
    assert main(["distill", "mtt", "--dataset", "digits-lt", "--ipc", "2", "--iterations", "1", "--out", "M",
                 "--quiet", "--option", "buffer=rep"]) == 2
    assert "expert_001.pt is damaged" in error_line(capsys)
    assert main(buffer) == 0  # the rerun trains the damaged expert again, to the same bytes
    assert (smoke / "rep" / "expert_001.pt").read_bytes() == good
    assert read_json(smoke / "rep" / "buffer.json")["seed"] == 0
    assert main([*buffer, "--seed", "7"]) == 2  # another seed would fill the gaps with other experts
    assert "seed=0 there, 7 now" in error_line(capsys)


def test_a_resumed_trajectory_run_uses_the_experts_it_started_with(smoke, capsys, buffer):
    def mtt(out: str, iterations: int, *extra: str) -> int:
        return main(["distill", "mtt", "--dataset", "digits-lt", "--ipc", "2", "--iterations", str(iterations),
                     "--out", out, "--quiet", "--option", "buffer=rep", "--option", "syn_steps=2",
                     "--option", "max_start_epoch=1", "--option", "expert_epochs=1", *extra])

    assert mtt("S", 4) == 0
    assert mtt("K", 2) == 0
    buffer[buffer.index("2")] = "6"  # more experts arrive between the kill and the resume
    assert main(buffer) == 0
    assert mtt("K", 4, "--resume") == 0
    straight, resumed = (SyntheticSet.load(smoke / d / "synthetic.pt") for d in ("S", "K"))
    assert torch.equal(straight.images, resumed.images)
    (smoke / "rep" / "expert_000.pt").unlink()
    assert mtt("K", 5, "--resume") == 2
    assert "expert_000.pt is missing or changed" in error_line(capsys)


@pytest.mark.slow
def test_torchrun_shards_the_experts_like_one_process(smoke, capsys, buffer):
    torchrun = Path(sys.executable).with_name("torchrun")
    if not torchrun.exists():
        pytest.skip("torchrun is not installed beside this python")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "LTDD_PROFILE": "smoke"}
    argv = [a if a != "rep" else "shared" for a in buffer]
    result = subprocess.run([str(torchrun), "--nproc_per_node", "2", "--master_port", "0", "-m", "ltdd", *argv],
                            cwd=smoke, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    shards = sorted(json.loads(line)["shard"] for line in result.stdout.splitlines() if line.startswith("{"))
    assert shards == [[0, 2], [1, 2]]
    for k in (0, 1):
        assert (smoke / "shared" / f"expert_{k:03d}.pt").read_bytes() == (smoke / "rep" / f"expert_{k:03d}.pt"
                                                                           ).read_bytes()


# ------------------------------------------------------------------------------- 5: Ctrl-C, one-line errors
def test_ctrl_c_saves_the_last_finished_step(smoke, capsys, monkeypatch):
    from ltdd.distill.dm import DM

    assert distill("dm", "S", 5) == 0
    step = DM.step

    def interrupted(self):
        metrics = step(self)
        if self.iteration == 2:  # Ctrl-C during the third step
            os.kill(os.getpid(), signal.SIGINT)
        return metrics

    monkeypatch.setattr(DM, "step", interrupted)
    assert distill("dm", "K", 5) == 130
    line = error_line(capsys)
    assert "interrupted" in line and "iteration 3" in line and "--resume" in line
    monkeypatch.setattr(DM, "step", step)
    assert distill("dm", "K", 5, "--resume") == 0
    straight, resumed = (SyntheticSet.load(smoke / d / "synthetic.pt") for d in ("S", "K"))
    assert torch.equal(straight.images, resumed.images)


@pytest.mark.parametrize("argv, words", [
    (["rebalance", "vanilla", "--seeds", "", "--out", "R"], ["--seeds", "at least one"]),
    (["compare", "--networks", "0", "--out", "C"], ["--networks", "positive"]),
    (["tm-ablation", "--dataset", "digits", "--out", "C"], ["--dataset", "long-tailed"]),
    (["distill", "dm", "--checkpoint-every", "-1", "--out", "D"], ["--checkpoint-every", ">= 0"]),
    (["distill", "dm", "--dataset", "digits", "--ipc", "2", "--option", "ipc=3", "--out", "D"], ["contradicts"]),
    (["distill", "dm", "--dataset", "digits", "--option", "lr_img=none", "--out", "D"], ["lr_img", "not none"]),
    (["distill", "dm", "--device", "nonsense", "--out", "D"], ["device must be"]),
    (["distill", "dm", "--device", "meta", "--out", "D"], ["device must be"]),
    (["distill", "dm", "--device", "mps", "--out", "D"], ["mps", "not available"]),
    (["bias-sweep", "A=dm", "A=idm", "--out", "S.json"], ["labels must differ", "'A'"]),
    (["data", "cifar10", "--counts-only"], ["--counts-only", "long-tailed"]),
    (["data", "cifar10-lt", "--counts-only", "--bias-ratio", "0.5"], ["--bias-ratio", "ignored"]),
    (["experts", "--stage", "representation", "--representation", "R", "--out", "E"], ["--representation"]),
])
def test_bad_requests_get_one_line(smoke, capsys, argv, words):
    assert main([*argv, *(["--quiet"] if argv[0] not in ("data",) else [])]) == 2
    line = error_line(capsys)
    for word in words:
        assert word in line, line
    assert not any((smoke / name).exists() for name in ("R", "C", "D", "S.json", "E"))


def test_hand_edited_files_are_named_in_one_line(smoke, capsys):
    (smoke / "R").mkdir()
    (smoke / "R" / "study.json").write_text('{"rows": [{"seed": 0}], "settings": {}}')
    assert main(["rebalance", "vanilla", "--out", "R", "--resume", "--quiet", "--networks", "1"]) == 2
    line = error_line(capsys)
    assert "study.json is not a study file" in line
    (smoke / "R" / "study.json").write_text('{"rows": [')
    assert main(["rebalance", "vanilla", "--out", "R", "--resume", "--quiet", "--networks", "1"]) == 2
    assert "study.json is not a valid JSON file" in error_line(capsys)
    (smoke / "S.json").write_text('{"rows": [{"label": "DM"}]}')
    assert main(["bias-sweep", "dm", "--out", "S.json", "--resume", "--quiet"]) == 2
    assert "S.json is not a bias-sweep file" in error_line(capsys)


def test_bias_sweep_reads_its_data_where_it_is_told(smoke, capsys):
    assert main(["bias-sweep", "dm", "--dataset", "cmnist-dd", "--data-root", "elsewhere", "--no-download",
                 "--ratios", "0.5", "--out", "S.json", "--quiet"]) == 2
    assert "elsewhere" in error_line(capsys)
    assert not (smoke / "S.json").exists()


def test_ctrl_c_outside_a_run_is_one_line(smoke, capsys, monkeypatch):
    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("ltdd.cli.load_dataset", interrupt)
    assert main(["rebalance", "vanilla", "--out", "R", "--quiet"]) == 130
    assert error_line(capsys) == "ltdd rebalance: interrupted"


def test_garbage_cifar_batches_are_named(tmp_path):
    from ltdd.data.loaders import _unpickle

    (tmp_path / "data_batch_1").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="data_batch_1 is not a CIFAR python batch"):
        _unpickle(tmp_path / "data_batch_1")


def test_evaluate_refuses_another_zca_than_the_set_was_made_in(smoke, capsys):
    assert distill("random", "Z", 1) == 0
    capsys.readouterr()
    assert main(["evaluate", "Z", "--zca", "0.1", "--seeds", "1", "--epochs", "1", "--quiet"]) == 2
    assert "--zca 0.1 differs from the set's own zca=None" in error_line(capsys)


def test_the_top_level_help_is_whole(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    description = capsys.readouterr().out.split("positional arguments")[0]
    assert ("compare | longtail-effect | convergence | student-edition | colab-edition | set-repository`` (also "
            "the ``ltdd`` "
            "console script)") in " ".join(description.split())


def test_an_os_error_is_one_line(smoke, capsys, monkeypatch):
    def full(*args, **kwargs):
        raise OSError(28, "No space left on device", "X/synthetic.pt")

    monkeypatch.setattr("ltdd.files.atomic_save", full)
    assert distill("random", "X", 1) == 1
    assert error_line(capsys) == "ltdd distill: error: No space left on device (X/synthetic.pt)"


# ------------------------------------------------------------------------------- 8: records
def test_a_resumed_run_records_every_segment_and_a_no_op_resume_writes_nothing(smoke, capsys):
    assert distill("dm", "X", 2) == 0
    assert distill("dm", "X", 4, "--resume") == 0
    record = read_json(smoke / "X" / "run.json")
    assert [(s["from_iteration"], s["to_iteration"]) for s in record["segments"]] == [(0, 2), (2, 4)]
    assert record["seconds"] == pytest.approx(sum(s["seconds"] for s in record["segments"]))
    assert record["seconds"] > record["seconds_this_run"]
    files = {name: ((smoke / "X" / name).read_bytes(), (smoke / "X" / name).stat().st_mtime_ns)
             for name in ("run.json", "synthetic.pt", "checkpoint.pt")}
    capsys.readouterr()
    assert distill("dm", "X", 4, "--resume") == 0
    assert "nothing to do" in capsys.readouterr().err
    assert files == {name: ((smoke / "X" / name).read_bytes(), (smoke / "X" / name).stat().st_mtime_ns)
                     for name in files}


def test_saved_files_honour_the_umask_and_same_tensors_give_same_bytes(tmp_path):
    previous = os.umask(0o027)
    try:
        first = atomic_save({"w": torch.arange(6.0)}, tmp_path / "a.pt")
        second = atomic_save({"w": torch.arange(6.0)}, tmp_path / "b.pt")
        text = atomic_write_text("{}", tmp_path / "c.json")
    finally:
        os.umask(previous)
    assert first.read_bytes() == second.read_bytes()
    assert {p.stat().st_mode & 0o777 for p in (first, second, text)} == {0o640}
