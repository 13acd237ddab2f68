"""``python -m ltdd experts``, ``distill mtt|datm|ltdd`` (presets, resume), ``evaluate`` at the learned step size,
and ``tm-ablation``: trajectory matching from the command line."""

from __future__ import annotations

import json

import pytest
import torch

from ltdd.cli import main
from ltdd.distill import SyntheticSet

pytestmark = pytest.mark.usefixtures("one_thread")



def last_json(capsys) -> dict:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


@pytest.fixture
def buffers(smoke, capsys):
    common = ["--dataset", "digits-lt", "--experts", "2", "--quiet", "--option", "batch_size=128"]
    assert main(["experts", "--out", "rep", "--option", "epochs=3", *common]) == 0
    record = last_json(capsys)
    assert record["experts"] == 2 and record["epochs"] == 3 and record["model_options"] == {"width": 32}
    assert main(["experts", "--out", "cls", "--stage", "classifier", "--representation", "rep",
                 "--option", "epochs=2", *common]) == 0
    assert last_json(capsys)["stage"] == "classifier"
    return smoke


def distill(method: str, *extra: str, out: str = "D", iterations: str = "2") -> int:
    return main(["distill", method, "--dataset", "digits-lt", "--ipc", "2", "--iterations", iterations, "--out", out,
                 "--quiet", "--option", "buffer=rep", "--option", "syn_steps=2", "--option", "max_start_epoch=1",
                 *extra])


def test_ltdd_distils_resumes_and_evaluates_at_the_learned_step_size(buffers, capsys):
    assert distill("ltdd", "--option", "classifier_buffer=cls", "--checkpoint-every", "1") == 0
    run = last_json(capsys)
    assert run["config"]["decoupled"] is True and run["iterations"] == 2
    assert distill("ltdd", "--option", "classifier_buffer=cls", "--resume", iterations="3") == 0
    assert last_json(capsys)["iterations_this_run"] == 1
    straight = distill("ltdd", "--option", "classifier_buffer=cls", out="S", iterations="3")
    assert straight == 0
    resumed, fresh = SyntheticSet.load(buffers / "D" / "synthetic.pt"), SyntheticSet.load(buffers / "S" / "synthetic.pt")
    assert torch.equal(resumed.images, fresh.images) and resumed.learned_lr == fresh.learned_lr
    capsys.readouterr()
    assert main(["evaluate", "D", "--seeds", "1", "--epochs", "2", "--quiet"]) == 0
    assert 0 <= last_json(capsys)["mean"] <= 1


def test_mtt_and_datm_run_from_one_buffer(buffers, capsys):
    assert distill("mtt", out="M") == 0
    assert last_json(capsys)["config"]["soft_labels"] is False
    assert distill("datm", "--option", "current_max_start_epoch=None", "--option", "threshold=None", out="T") == 0
    assert SyntheticSet.load(buffers / "T" / "synthetic.pt").labels.ndim == 2  # soft labels


@pytest.mark.parametrize(("args", "message"), [
    (["--option", "max_start_epoch=5"], "max_start_epoch=5 with expert_epochs=2 needs expert trajectories of 6"),
    (["--option", "expert_epochs=4"], "expert_epochs=4 needs expert trajectories of 4 epochs, but buffer='rep' "
                                      "stores 3"),
    (["--option", "buffer=cls"], "holds classifier experts; buffer needs representation experts"),
    (["--imbalance", "20"], "trained for other data or another model"),
    (["--option", "net_width=16"], "model_options={'width': 32} there, {'width': 16} now"),
    (["--preset"], "no published 'mtt' setting for dataset='digits-lt'"),
])
def test_bad_input_is_a_clear_error(buffers, capsys, args, message):
    assert distill("mtt", *args, out="E") == 2
    assert message in capsys.readouterr().err


def test_experts_refuse_bad_requests(smoke, capsys):
    assert main(["experts", "--out", "x", "--stage", "classifier", "--quiet"]) == 2
    assert "classifier experts need the representation buffer" in capsys.readouterr().err
    assert main(["experts", "--out", "x", "--preset", "ltdd", "--quiet"]) == 2
    assert "--preset must be METHOD:IPC" in capsys.readouterr().err
    assert main(["experts", "--out", "x", "--option", "optimizer=adam", "--quiet"]) == 2
    assert "optimizer='adam' is unknown" in capsys.readouterr().err


def test_tm_ablation_writes_rows_and_resumes(smoke, capsys):
    assert main(["tm-ablation", "--seeds", "0", "--out", "A", "--quiet"]) == 0
    study = json.loads((smoke / "A" / "study.json").read_text())
    assert [row["label"] for row in study["rows"]] == ["MTT", "base", "+DAM", "+DAM+ED"]
    assert study["settings"]["command"].startswith("python -m ltdd tm-ablation")
    assert all(len(row["per_class"]) == 10 and row["learned_lr"] > 0 for row in study["rows"])
    capsys.readouterr()
    assert main(["tm-ablation", "--seeds", "0", "--out", "A", "--resume", "--quiet"]) == 0
    assert len(json.loads((smoke / "A" / "study.json").read_text())["rows"]) == 4
    assert main(["tm-ablation", "--seeds", "0", "--out", "A", "--resume", "--imbalance", "20", "--quiet"]) == 2
    assert "was written with other settings" in capsys.readouterr().err


def test_the_paper_profile_runs_the_published_setting_of_a_tm_method(capsys):
    from types import SimpleNamespace

    from ltdd import get_profile
    from ltdd.cli import _tm_preset

    paper, smoke = get_profile("paper"), get_profile("smoke")
    cifar10_lt = SimpleNamespace(name="cifar10-lt", info={"imbalance": 100})
    ltdd = SimpleNamespace(preset=False, method="ltdd")
    preset = _tm_preset(ltdd, paper, cifar10_lt, 20)
    # LTDD configs/CIFAR-10/ConvIN/imbrate_001/lt_ipc20_weighted_loss_match_both.yaml: Sequential_Generation
    # True, current_max_start_epoch 10, max_start_epoch 20, expansion_end_epoch 2000; DAM-ED_tesla.py
    assert (preset.settings["current_max_start_epoch"], preset.settings["max_start_epoch"],
            preset.settings["expansion_end"], preset.settings["grad_mode"]) == (10, 20, 2000, "tesla")
    assert _tm_preset(ltdd, smoke, cifar10_lt, 20) is None  # other profiles: only with --preset
    assert _tm_preset(SimpleNamespace(preset=False, method="dm"), paper, cifar10_lt, 10) is None
    digits = SimpleNamespace(name="digits-lt", info={"imbalance": 10})
    assert _tm_preset(ltdd, paper, digits, 10) is None
    assert "no published ltdd setting for digits-lt at IPC 10, beta 10" in capsys.readouterr().err
    with pytest.raises(ValueError, match="no published 'ltdd' setting for dataset='digits-lt'"):
        _tm_preset(SimpleNamespace(preset=True, method="ltdd"), smoke, digits, 10)

