"""Recorded CIFAR-10 experiments: the file's provenance, reading it back, the results panel and its sentences."""

import hashlib
import json

import pytest

from ltdd.data import load_dataset
from ltdd.studies.rebalance import RebalanceStudy
from ltdd.book.viz.recorded import plot_recorded_vs_paper
from ltdd.studies.recorded import (CIFAR10_MIRROR_LABEL, gap_sentence, load_experiment,
                                   record_experiment, restore_study, results_panel, row_accuracy, study_scale,
                                   share_of_paper_gap, study_seconds)

from test_data import write_cifar


def study_rows(label, accuracies, network_std=0.01, seconds=None):
    return [{"label": label, "plan": label.lower(), "seed": seed, "accuracy": accuracy, "network_std": network_std,
             "per_class": [accuracy] * 10, "size": {"images": 100, "stored": 100},
             "seconds": seconds or {"build": 2.0, "evaluate": 3.0}} for seed, accuracy in enumerate(accuracies)]


def write_study(path, ipc, rows):
    settings = {"dataset": "cifar10", "profile": "cpu", "ipc": ipc, "iterations": 200, "net_width": 64,
                "networks": 3, "eval_epochs": 300, "seeds": [0, 1], "command": "python -m ltdd compare ..."}
    RebalanceStudy(rows, settings).save(path)
    return path


@pytest.fixture
def archive(tmp_path):
    path = tmp_path / "mirror.zip"
    path.write_bytes(b"not really a zip, but its MD5 is what the record checks")
    return path, hashlib.md5(path.read_bytes()).hexdigest()


@pytest.fixture
def recorded(tmp_path, archive):
    ipc10 = write_study(tmp_path / "ipc10.json", 10,
                        study_rows("random", [0.28, 0.30]) + study_rows("DM", [0.44, 0.46]))
    ipc1 = write_study(tmp_path / "ipc1.json", 1, study_rows("DM", [0.25]))
    out = record_experiment("dm-family", {"ipc10": ipc10, "ipc1": ipc1}, archive[0], tmp_path / "dm.json",
                            notes="test", expected_md5=archive[1])
    return out


def test_record_experiment_carries_provenance_and_every_row(recorded, archive):
    content = json.loads(recorded.read_text())
    assert content["dataset_label"] == "CIFAR-10 (JPEG mirror)"
    assert content["archive_md5"] == archive[1]
    assert content["studies"]["ipc10"]["settings"]["command"] == "python -m ltdd compare ..."
    # four rows of 5 s each at IPC 10, one at IPC 1
    assert content["studies"]["ipc10"]["seconds"] == 20.0 and content["seconds"] == 25.0
    assert content["studies"]["ipc10"]["settings"]["batch_real"] == 128  # the cpu profile's, filled in
    assert len(content["studies"]["ipc10"]["rows"]) == 4
    # the notes say which of the six planned rows per IPC are missing (random and DM at 10, DM at 1 are there)
    assert content["notes"] == ("test; still to run: ipc1/random, ipc1/herding, ipc1/k-center, ipc1/IDM, "
                                "ipc1/DSDM, ipc10/herding, ipc10/k-center, ipc10/IDM, ipc10/DSDM")


def test_notes_say_when_every_planned_row_is_recorded(tmp_path, archive):
    from ltdd.studies.tm_study import ABLATION_ROWS

    from ltdd.studies.longtail_effect import BALANCED_SUBSET, LONG_TAILED
    from ltdd.studies.recorded import RECORDED_EXPERIMENTS

    # the planned labels are the ones the studies write
    assert RECORDED_EXPERIMENTS["tm-ablation"].planned["beta100"] == tuple(ABLATION_ROWS)
    assert set(RECORDED_EXPERIMENTS["longtail-effect"].planned["beta10"]) == {LONG_TAILED, BALANCED_SUBSET}
    path = write_study(tmp_path / "tm.json", 10, [row for label in ABLATION_ROWS for row in study_rows(label, [0.3])])
    out = record_experiment("tm-ablation", {"beta100": path}, archive[0], tmp_path / "tm-record.json",
                            expected_md5=archive[1])
    assert json.loads(out.read_text())["notes"] == "every planned row is recorded"


def test_record_experiment_never_drops_recorded_rows(recorded, tmp_path, archive):
    smaller = write_study(tmp_path / "smaller.json", 10, study_rows("DM", [0.44, 0.46]))  # random's rows gone
    ipc1 = tmp_path / "ipc1.json"
    with pytest.raises(ValueError, match="ipc10/random/seed 0"):
        record_experiment("dm-family", {"ipc10": smaller, "ipc1": ipc1}, archive[0], recorded,
                          expected_md5=archive[1])
    assert len(load_experiment("dm-family", recorded).study("ipc10").rows) == 4
    grown = write_study(tmp_path / "grown.json", 10, study_rows("random", [0.28, 0.30]) + study_rows("DM", [0.44, 0.46])
                        + study_rows("IDM", [0.5]))
    record_experiment("dm-family", {"ipc10": grown, "ipc1": ipc1}, archive[0], recorded, expected_md5=archive[1])
    assert len(load_experiment("dm-family", recorded).study("ipc10").rows) == 5
    record_experiment("dm-family", {"ipc10": smaller}, archive[0], recorded, expected_md5=archive[1], overwrite=True)
    assert sorted(load_experiment("dm-family", recorded).studies) == ["ipc10"]


def test_record_experiment_refuses_another_archive(tmp_path, archive):
    study = write_study(tmp_path / "s.json", 10, study_rows("DM", [0.4]))
    with pytest.raises(ValueError, match="MD5"):
        record_experiment("dm-family", {"ipc10": study}, archive[0], tmp_path / "x.json")
    with pytest.raises(ValueError, match="name must be one of"):
        record_experiment("nothing", {"ipc10": study}, archive[0], tmp_path / "x.json", expected_md5=archive[1])
    assert not (tmp_path / "x.json").exists()


def test_load_experiment_round_trip_and_missing(recorded, tmp_path):
    experiment = load_experiment("dm-family", recorded)
    assert sorted(experiment.studies) == ["ipc1", "ipc10"]
    assert experiment.provenance["dataset_label"] == CIFAR10_MIRROR_LABEL
    assert experiment.study("ipc10").mean_std("DM")[0] == pytest.approx(0.45)
    with pytest.raises(KeyError, match="ipc50"):
        experiment.study("ipc50")
    assert load_experiment("dm-family", tmp_path / "absent.json") is None
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(ValueError, match="bad.json"):
        load_experiment("dm-family", tmp_path / "bad.json")


def test_row_accuracy_uses_network_spread_for_one_seed(recorded):
    experiment = load_experiment("dm-family", recorded)
    mean, std, seeds = row_accuracy(experiment.study("ipc10"), "DM")
    assert (mean, std, seeds) == (pytest.approx(45.0), pytest.approx(1.0), 2)  # population std over 44, 46
    assert row_accuracy(experiment.study("ipc1"), "DM") == (pytest.approx(25.0), pytest.approx(1.0), 1)
    assert row_accuracy(experiment.study("ipc1"), "IDM") is None


def test_results_panel_puts_paper_recorded_and_live_side_by_side(recorded):
    experiment = load_experiment("dm-family", recorded)
    panel = results_panel([("random", "random", 10), ("DM", "dm", 10), ("IDM", "idm", 10)], experiment,
                          live={("DM", 10): 91.0, ("DM", 1): 80.0}, live_label="live, digits, cpu")
    lines = panel.splitlines()
    assert CIFAR10_MIRROR_LABEL in lines[0] and "live, digits, cpu" in lines[0]
    # paper numbers typed from the DM paper's Table 1 (random 26.0, DM 48.9) and IDM's Table 1 (58.6), CIFAR-10
    assert lines[2].split(" | ")[2:4] == ["26.0", "29.0 ± 1.0"]
    assert lines[3].split(" | ")[2:5] == ["48.9", "45.0 ± 1.0", "91.0 |"]
    assert "58.6" in lines[4] and "not recorded yet" in lines[4]


def test_gap_sentence_is_computed_from_the_rows(recorded):
    study = load_experiment("dm-family", recorded).study("ipc10")
    text = gap_sentence(study, "DM", "random", "dm", "random")
    assert "45.0 % against 29.0 %" in text and "16.0 points above" in text
    assert "48.9 against 26.0, +22.9 points" in text
    assert "below" in gap_sentence(study, "random", "DM")
    assert "not recorded yet" in gap_sentence(study, "IDM", "random")
    share = share_of_paper_gap(study, "DM", "random", "dm", "random")
    # 16.0 of the paper's 22.9 points (DM paper, CIFAR-10 IPC 10: 48.9 - 26.0), after 200 of 20,000 iterations
    assert "70 % of the papers' lead" in share and "+16.0 against +22.9" in share and "(the paper: 20,000)" in share


def test_study_scale_and_seconds(recorded):
    study = load_experiment("dm-family", recorded).study("ipc10")
    scale = study_scale(study)
    for part in ("IPC 10", "200 iterations", "128 real images per class", "width 64", "3 evaluation networks",
                 "300 epochs", "2 seeds"):
        assert part in scale
    assert study_seconds(study) == 20.0


def test_cifar_loader_records_the_converter_note(tmp_path):
    write_cifar(tmp_path, "cifar10", "bytes", per_file=60)  # every class present
    assert "source" not in load_dataset("cifar10", data_root=tmp_path, download=False).info
    (tmp_path / "cifar-10-batches-py" / "SOURCE.txt").write_text("CIFAR-10 re-encoded as JPEG q75 by a mirror.\n")
    dataset = load_dataset("cifar10-lt", data_root=tmp_path, download=False, imbalance=2)
    assert dataset.info["source"] == "CIFAR-10 re-encoded as JPEG q75 by a mirror."


def test_plot_recorded_vs_paper_draws_ours_and_the_paper(recorded):
    experiment = load_experiment("dm-family", recorded)
    fig = plot_recorded_vs_paper(experiment, [("random", "random"), ("DM", "dm")])
    labels = fig.axes[0].get_legend_handles_labels()[1]
    assert sorted(labels) == ["DM (ours)", "DM (paper)", "random (ours)", "random (paper)"]
    paper_dm = [line for line in fig.axes[0].lines if line.get_linestyle() == "--"][1]
    assert list(paper_dm.get_ydata()) == [26.0, 48.9]  # DM paper, CIFAR-10, IPC 1 and 10


def test_restore_study_writes_it_back_and_never_overwrites(recorded, tmp_path):
    out = restore_study("dm-family", "ipc10", tmp_path / "again" / "study.json", recorded)
    assert RebalanceStudy.load(out).mean_std("DM")[0] == pytest.approx(0.45)
    with pytest.raises(ValueError, match="never overwrites"):
        restore_study("dm-family", "ipc10", out, recorded)


def longtail_rows(label, accuracy, per_class, norms, seed=0):
    return {"label": label, "plan": label, "seed": seed, "accuracy": accuracy, "network_std": 0.0,
            "per_class": per_class, "weight_norms": norms, "size": {"images": 1000, "stored": 1000},
            "groups": {"shots": {"many": 0.9, "medium": 0.5, "few": 0.1}}, "seconds": {"train": 10.0}}


def test_longtail_panel_and_sentences(tmp_path, archive):
    from ltdd.studies.longtail_effect import BALANCED_SUBSET, LONG_TAILED
    from ltdd.studies.recorded import longtail_panel, longtail_sentences

    counts = [500, 250, 125, 60, 30, 15, 8, 5, 4, 3]
    lt = longtail_rows(LONG_TAILED, 0.40, [0.95, 0.9, 0.8, 0.5, 0.3, 0.2, 0.1, 0.05, 0.1, 0.0],
                       [5.0, 4.5, 4.0, 3.5, 3.0, 2.5, 2.0, 1.5, 1.0, 0.5])
    balanced = longtail_rows(BALANCED_SUBSET, 0.55, [0.6] * 9 + [0.5], [3.0] * 10)
    path = tmp_path / "beta100.json"
    RebalanceStudy([lt, balanced], {"counts": counts, "imbalance": 100.0}).save(path)
    out = record_experiment("longtail-effect", {"beta100": path}, archive[0], tmp_path / "lt.json",
                            expected_md5=archive[1])
    experiment = load_experiment("longtail-effect", out)
    panel = longtail_panel(experiment).splitlines()
    assert "51.20" in panel[2]  # CRLT-DD Table III, CIFAR-10-LT β = 100, vanilla (typed from the paper)
    assert "| 40.0 |" in panel[2] and "| 55.0 |" in panel[3]  # one network, one seed: no spread shown
    slope_lt, slope_balanced = panel[2].split(" | ")[-1], panel[3].split(" | ")[-1]
    assert slope_lt.startswith("+") and slope_balanced.startswith("+0.000")  # norms grow with the class size
    (sentence,) = longtail_sentences(experiment)
    assert "(1,000 images) scores 40.0 % against 55.0 %" in sentence and "-15.0 points" in sentence
    assert "largest class (500 images) reaches 95.0 %" in sentence and "smallest (3 images) 0.0 %" in sentence


def test_longtail_sentence_while_the_balanced_subset_runs(tmp_path, archive):
    """A record holding only the long-tailed row (its balanced subset still running) says what that row shows."""
    from ltdd.studies.longtail_effect import LONG_TAILED
    from ltdd.studies.recorded import longtail_sentences

    lt = longtail_rows(LONG_TAILED, 0.40, [0.95, 0.9, 0.8, 0.5, 0.3, 0.2, 0.1, 0.05, 0.1, 0.0],
                       [3.0, 2.9, 2.7, 2.5, 2.2, 2.0, 1.8, 1.6, 1.5, 1.2])
    path = tmp_path / "beta100.json"
    RebalanceStudy([lt], {"counts": [500, 250, 125, 60, 30, 15, 8, 5, 4, 3], "imbalance": 100.0}).save(path)
    out = record_experiment("longtail-effect", {"beta100": path}, archive[0], tmp_path / "lt.json",
                            expected_md5=archive[1])
    (sentence,) = longtail_sentences(load_experiment("longtail-effect", out))
    assert "scores 40.0 %" in sentence and "reaches 95.0 %" in sentence and "0.0 %" in sentence
    assert "balanced subset of the same size is not recorded yet" in sentence


# ------------------------------------------------------------------ the committed files and the chapters' claims
from ltdd.studies.recorded import CIFAR10_MIRROR_MD5, RECORDED_EXPERIMENTS  # noqa: E402


@pytest.mark.parametrize("name", sorted(RECORDED_EXPERIMENTS))
def test_committed_record_has_its_provenance(name):
    experiment = load_experiment(name)
    if experiment is None:
        pytest.skip(f"{name} is not recorded yet")
    assert experiment.provenance["dataset_label"] == "CIFAR-10 (JPEG mirror)"
    assert experiment.provenance["archive_md5"] == CIFAR10_MIRROR_MD5 == "776f52f9e1e133769fe6ac6e76b30631"
    for key, study in experiment.studies.items():
        settings = study.settings
        assert settings["command"].startswith("python -m ltdd ") and settings["commit"] and settings["torch"]
        assert settings["dataset"] in ("cifar10", "cifar10-lt", "ccifar10-dd"), key
        assert study.rows and all(isinstance(row["seed"], int) for row in study.rows)


def test_chapters_01_and_05_claims_hold_in_the_dm_family_record():
    """Chapters 01 and 05 say that on CIFAR-10, unlike the digits, DM clearly beats random selection."""
    experiment = load_experiment("dm-family")
    if experiment is None:
        pytest.skip("dm-family is not recorded yet")
    for key in ("ipc1", "ipc10"):
        study = experiment.study(key)
        dm, random = row_accuracy(study, "DM"), row_accuracy(study, "random")
        assert dm[0] - random[0] > dm[1] + random[1], key  # by more than the spreads together


def test_dm_family_panel_has_table_scale_and_sentences(recorded, tmp_path):
    from ltdd.studies.recorded import dm_family_panel

    text = dm_family_panel([("random", "random"), ("DM", "dm"), ("IDM", "idm")], {"DM": {10: 0.9}},
                           "live, digits, smoke", path=recorded)
    assert "| DM | 10 | 48.9 | 45.0 ± 1.0 | 90.0 |" in text
    assert "ipc10: IPC 10, 200 iterations" in text
    assert "- At IPC 10 on CIFAR-10 (JPEG mirror), DM scores 45.0 % against 29.0 %" in text
    assert "IDM against random at IPC 10: not recorded yet." in text
    paired = dm_family_panel([("random", "random"), ("DM", "dm"), ("IDM", "idm")], path=recorded,
                             pairs=[("DM", "IDM"), ("random", "DM")])
    assert "- DM against IDM at IPC 10: not recorded yet." in paired
    # random against DM at IPC 10: 29.0 against 45.0 in the file, 26.0 against 48.9 in the papers
    assert "random scores 29.0 % against 45.0 % for DM: 16.0 points below it (the papers: 26.0 against 48.9, " \
           "-22.9 points)" in paired
    assert "not recorded yet" in dm_family_panel([("DM", "dm")], path=tmp_path / "absent.json")


def test_tm_ablation_panel_and_sentences(tmp_path, archive):
    from ltdd.studies.recorded import tm_ablation_panel, tm_ablation_sentences

    rows = []
    for label, accuracy in (("MTT", 0.30), ("base", 0.28), ("+DAM+ED", 0.40)):
        row = study_rows(label, [accuracy])[0]
        row["groups"] = {"shots": {"few": accuracy / 2}}
        rows.append(row)
    path = tmp_path / "tm.json"
    RebalanceStudy(rows, {"scale": {"ipc": 10}, "networks": 2}).save(path)
    out = record_experiment("tm-ablation", {"beta100": path}, archive[0], tmp_path / "tm_rec.json",
                            expected_md5=archive[1])
    experiment = load_experiment("tm-ablation", out)
    panel = tm_ablation_panel(experiment).splitlines()
    # LTDD Table 1 (β = 100, IPC 10): MTT 37.7, DATM 37.3, LTDD 53.4; Fig. 6a (β = 200, IPC 50): 43.8, 58.1, 62.6
    assert panel[2].startswith("| MTT | 37.7 | – | 30.0 ± 1.0 | 15.0 |")
    assert panel[3].startswith("| base | 37.3 | 43.8 | 28.0 ± 1.0 |")
    assert panel[4].startswith("| +DAM | – | 58.1 | not recorded yet |")
    assert panel[5].startswith("| +DAM+ED | 53.4 | 62.6 | 40.0 ± 1.0 |")
    sentences = tm_ablation_sentences(experiment)
    assert sentences[0] == "base scores 28.0 % against 30.0 % for MTT (-2.0 points)."
    assert sentences[1] == "+DAM against base: not recorded yet."
    # chapter 10 shows the first two rows and the first step only
    assert len(tm_ablation_panel(experiment, labels=("MTT", "base")).splitlines()) == 4
    assert tm_ablation_sentences(experiment, steps=[("base", "MTT")]) == sentences[:1]
    from ltdd.studies.recorded import tm_ablation_scale
    from ltdd.studies.tm_study import TM_SCALE
    import dataclasses

    study = experiment.study("beta100")
    study.settings.update({"scale": dataclasses.asdict(TM_SCALE["cpu"]), "eval_epochs": 300})
    assert tm_ablation_scale(study) == ("IPC 10, 5 experts of 20 epochs (classifier experts 4 epochs), 10 student "
                                        "steps matched against 2 expert epochs, 100 iterations, ConvNet width 32, "
                                        "2 evaluation networks × 300 epochs, 1 seed")


def test_recorded_study_prints_its_provenance_or_that_it_is_missing(tmp_path, capsys):
    from ltdd.studies.rebalance import RebalanceStudy
    from ltdd.studies.recorded import recorded_study

    assert recorded_study("absent.json", root=tmp_path) is None
    assert capsys.readouterr().out == f"no recorded study at {tmp_path / 'absent.json'} yet\n"
    settings = {"command": "python -m ltdd rebalance", "commit": "abc123", "date": "2026-01-02",
                "device": "cpu", "threads": 2, "seeds": [0, 1]}
    RebalanceStudy([], settings).save(tmp_path / "study.json")
    study = recorded_study("study.json", root=tmp_path)
    assert study is not None and study.settings["seeds"] == [0, 1]
    assert capsys.readouterr().out == ("study.json: python -m ltdd rebalance\n"
                                       "  commit abc123, 2026-01-02, cpu, 2 thread(s)\n")


def bias_sweep_file(path, ratios=(0.0, 0.5, 0.95, 1.0)):
    from ltdd.studies.biased import BiasSweep

    dm = {0.0: 0.40, 0.5: 0.36, 0.95: 0.30, 1.0: 0.25}
    rows = [{"label": label, "method": label.lower(), "bias_ratio": r, "severity": 4, "seed": 0,
             "conflicting_test": dm[r] + shift, "lff_aligned": 0.5, "lff_conflicting": 0.3, "seconds": 60.0}
            for r in ratios for label, shift in (("DM", 0.0), ("DeDM", 0.02))]
    full = [{"bias_ratio": r, "severity": 4, "conflicting_test": {0.0: 0.6, 0.5: 0.5, 0.95: 0.32, 1.0: 0.2}[r],
             "lff_aligned": 0.9, "lff_conflicting": 0.4} for r in ratios]
    settings = {"dataset": "ccifar10-dd", "profile": "cpu", "ipc": 10, "iterations": 200, "batch_real": 128,
                "net_width": 64, "eval_seeds": 3, "eval_epochs": 300, "command": "python -m ltdd bias-sweep ..."}
    BiasSweep(rows, full, settings).save(path)
    return path


def test_bias_record_panel_and_sentences(tmp_path, archive):
    from ltdd.book.viz.recorded import plot_bias_recorded_vs_paper
    from ltdd.studies.recorded import bias_panel, bias_sentences

    path = bias_sweep_file(tmp_path / "sweep.json", ratios=(0.0, 0.95, 1.0))
    out = record_experiment("bias", {"severity4": path}, archive[0], tmp_path / "bias.json", expected_md5=archive[1])
    content = json.loads(out.read_text())
    assert content["seconds"] == 360.0 and len(content["studies"]["severity4"]["full"]) == 3
    assert content["notes"] == "still to run: severity4/DM at ratio 0.5, severity4/DeDM at ratio 0.5, " \
                               "severity4/full set at ratio 0.5"
    experiment = load_experiment("bias", out)
    panel = bias_panel(experiment).splitlines()
    assert panel[0].split(" | ")[1:] == ["ratio 0", "ratio 0.5", "ratio 0.95", "ratio 1 |"]
    assert panel[2].startswith("| DM, ours (IPC 10) | 40.0 | not recorded yet | 30.0 | 25.0")
    # Biased-DD Table 1, CCIFAR10-DD (typed from the paper): DM 52.29 / 47.47 / 38.23 / 36.68, full set
    # 73.77 / 67.13 / 37.34 / 24.55 at ratios 0 / 0.5 / 0.95 / 1
    assert panel[3] == "| DM, paper (IPC 50) | 52.29 | 47.47 | 38.23 | 36.68 |"
    assert panel[-1] == "| full set, paper | 73.77 | 67.13 | 37.34 | 24.55 |"
    fall, at_095, at_1, dedm_095, dedm_1 = bias_sentences(experiment)
    assert "from 40.0 % to 25.0 % (-15.0 points; the paper at IPC 50: 52.29 → 36.68, -15.61)" in fall
    assert "scores 30.0 %, 2.0 points below the full biased set (32.0 %)" in at_095 and "above it" in at_095
    assert "scores 25.0 %, 5.0 points above the full biased set (20.0 %)" in at_1
    assert "At ratio 0.95, DeDM (oracle) scores 32.0 % against 30.0 % for DM (+2.0 points)." == dedm_095
    from ltdd.studies.recorded import bias_scale

    assert bias_scale(experiment.study("severity4")).endswith("1 seed; the full-set control the profile's epochs")
    axes = plot_bias_recorded_vs_paper(experiment).axes[0]
    assert {"DM", "DeDM", "full set", "DM (paper)", "full set (paper)"} <= {l.get_label() for l in axes.get_lines()}


def test_grouping_panel_reports_one_run_three_ways(tmp_path, archive):
    from ltdd.studies.longtail_effect import LONG_TAILED
    from ltdd.studies.recorded import grouping_panel

    counts = [5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50]  # CIFAR-10-LT, β = 100 (LDAM-DRW's split)
    per_class = [0.9, 0.9, 0.9, 0.6, 0.6, 0.6, 0.6, 0.3, 0.1, 0.0]
    path = tmp_path / "beta100.json"
    RebalanceStudy([longtail_rows(LONG_TAILED, 0.5, per_class, [1.0] * 10)],
                   {"counts": counts, "imbalance": 100.0}).save(path)
    out = record_experiment("longtail-effect", {"beta100": path}, archive[0], tmp_path / "lt.json",
                            expected_md5=archive[1])
    rows = grouping_panel(load_experiment("longtail-effect", out)).splitlines()[2:]
    # thresholds: classes 0-7 have more than 100 images (mean 0.675), 8-9 between 20 and 100, none fewer than 20
    assert rows[0].endswith("| 67.5 (8) | 5.0 (2) | – (0) |") and rows[1].endswith("| 67.5 (8) | 5.0 (2) | – (0) |")
    assert rows[2].endswith("| 90.0 (3) | 60.0 (4) | 13.3 (3) |")  # MiSLAS's CIFAR-10 thirds


@pytest.mark.parametrize("name", sorted(RECORDED_EXPERIMENTS))
def test_every_chapter_named_for_a_record_shows_it(name):
    from pathlib import Path

    chapters = Path(__file__).resolve().parents[1] / "chapters"
    for number in RECORDED_EXPERIMENTS[name].chapters:
        (source,) = chapters.glob(f"{number}_*.py")
        assert f'load_experiment("{name}")' in source.read_text() or \
            (name == "dm-family" and "dm_family_panel(" in source.read_text()), (name, source.name)


def test_shortcut_panel_and_sentences_read_the_full_set_control(tmp_path, archive):
    from ltdd.studies.recorded import shortcut_panel, shortcut_sentences

    path = bias_sweep_file(tmp_path / "sweep.json", ratios=(0.0, 0.95, 1.0))
    out = record_experiment("bias", {"severity4": path}, archive[0], tmp_path / "bias.json", expected_md5=archive[1])
    experiment = load_experiment("bias", out)
    panel = shortcut_panel(experiment).splitlines()
    assert panel[0] == "| full training set | ratio 0 | ratio 0.95 | ratio 1 |"
    assert panel[2] == "| ours: bias-aligned test images | 90.0 | 90.0 | 90.0 |"
    assert panel[3] == "| ours: bias-conflicting test images | 40.0 | 40.0 | 40.0 |"
    # Biased-DD Table 1, CCIFAR10-DD full set (typed from the paper): 73.77 / 37.34 / 24.55 at ratios 0 / 0.95 / 1
    assert panel[4] == "| Biased-DD Table 1: all-conflicting test set | 73.77 | 37.34 | 24.55 |"
    most, least = shortcut_sentences(experiment)
    assert most == ("At bias ratio 1, the ConvNet on the whole training set scores 90.0 % on bias-aligned test "
                    "images and 40.0 % on bias-conflicting ones: 50.0 points more on the aligned ones.")
    assert least.startswith("At bias ratio 0,")


def test_the_committed_comparison_says_all_rows_only_when_every_planned_row_is_there():
    from ltdd.studies.recorded import comparison_sentences

    experiment = load_experiment("comparison")
    if experiment is None:
        pytest.skip("the comparison is not recorded yet")
    complete = experiment.provenance["notes"] == "every planned row is recorded"
    assert comparison_sentences(experiment)[0].startswith("Of all 11 rows" if complete else "Of the ")


def test_chapter_03_shortcut_shows_in_the_committed_bias_record():
    """Chapter 03 reads the gap between aligned and conflicting test images at ratio 1 as the shortcut."""
    experiment = load_experiment("bias")
    if experiment is None:
        pytest.skip("the bias experiment is not recorded yet")
    sweep = experiment.study("severity4")
    aligned = sweep.cell("full set", 1.0, 4, "lff_aligned")[0]
    conflicting = sweep.cell("full set", 1.0, 4, "lff_conflicting")[0]
    assert aligned > 2 * conflicting


def test_crlt_dd_panel_and_sentences(tmp_path, archive):
    from ltdd.studies.recorded import crlt_dd_panel, crlt_dd_sentences

    rows = []
    for label, accuracy in (("vanilla", 0.40), ("distill head", 0.46), ("sample all", 0.38),
                            ("sample all + SimCLR", 0.41)):
        (row,) = study_rows(label, [accuracy])
        row["groups"] = {"halves": {"head": accuracy + 0.2, "tail": accuracy - 0.2}}
        rows.append(row)
    path = write_study(tmp_path / "crlt.json", 10, rows)
    out = record_experiment("crlt-dd", {"beta100": path}, archive[0], tmp_path / "c.json", expected_md5=archive[1])
    experiment = load_experiment("crlt-dd", out)
    panel = crlt_dd_panel(experiment).splitlines()
    # CRLT-DD Table III, CIFAR-10-LT β = 100 (typed from the paper): vanilla 51.20, distill head 62.45
    assert panel[2] == "| vanilla | 51.20 | 40.0 ± 1.0 | 60.0 | 20.0 |"
    assert panel[6].startswith("| distill head | 62.45 | 46.0 ± 1.0 | 66.0 | 26.0")
    assert panel[5].startswith("| sample head | 62.03 | not recorded yet | – | –")
    sentences = crlt_dd_sentences(experiment)
    assert "distill head scores 46.0 % against 40.0 % for vanilla (+6.0 points; the paper: +11.25)." in sentences
    assert "sample all scores 38.0 % against 40.0 % for vanilla (-2.0 points; the paper: -1.26)." in sentences
    assert "sample head against vanilla: not recorded yet." in sentences
    # Table III, β = 100: sample all 49.94, sample all + SimCLR 52.01
    assert "SimCLR's encoder changes sample all by +3.0 points (38.0 → 41.0 %; the paper: +2.07)." in sentences
    assert not any(s.startswith("SimCLR's encoder changes distill all") for s in sentences)  # not recorded
    from ltdd.studies.recorded import crlt_dd_scale

    study = experiment.study("beta100")
    study.settings.update({"method": "dm", "batch_real": 128, "ipc_head": 500, "simclr_epochs": 5, "networks": 1,
                           "eval_epochs": 30})
    assert crlt_dd_scale(study) == ("DM 200 iterations with 128 real images per class, distill head at IPC 500, "
                                    "SimCLR 5 epochs, ConvNet width 64, 1 evaluation network × 30 epochs, 1 seed")
    # without a head IPC in the settings the plan chose it: the head rows' sets say which
    study.settings.update({"ipc_head": None, "networks": 3})
    head = next(row for row in study.rows if row["label"] == "distill head")
    head.update({"plan": "distill-head", "size": {"ipc": 516}})
    assert "distill head at IPC 516, SimCLR" in crlt_dd_scale(study)
    assert "3 evaluation networks × 30 epochs" in crlt_dd_scale(study)
    head["size"] = {"ipc": None}
    assert "distill head at the plan's own IPC, SimCLR" in crlt_dd_scale(study)


def test_comparison_panel_names_each_papers_number_and_source(tmp_path, archive):
    from ltdd.studies.recorded import comparison_panel

    rows = study_rows("IDM", [0.30]) + study_rows("DSA", [0.2])
    path = write_study(tmp_path / "cmp.json", 10, rows)
    out = record_experiment("comparison", {"beta100": path}, archive[0], tmp_path / "c.json",
                            expected_md5=archive[1])
    crlt_path = write_study(tmp_path / "crlt.json", None, study_rows("vanilla", [0.45]))
    crlt = record_experiment("crlt-dd", {"beta100": crlt_path}, archive[0], tmp_path / "r.json",
                             expected_md5=archive[1])
    experiment = load_experiment("comparison", out)
    text = comparison_panel(experiment, rebalancing=load_experiment("crlt-dd", crlt))
    panel = {line.split(" | ")[0].lstrip("| "): line for line in text.splitlines()[2:] if line.startswith("|")}
    # LTDD Table 1, CIFAR-10-LT β = 100, IPC 10: IDM 49.8, LTDD 53.4; CRLT-DD Table III β = 100: vanilla 51.20
    assert panel["IDM"] == "| IDM | 49.8 | LTDD Table 1, IPC 10 | 30.0 ± 1.0 | – | – |"
    assert panel["LTDD (DAM+ED)"].startswith("| LTDD (DAM+ED) | 53.4 | LTDD Table 1, IPC 10 | not recorded yet")
    assert panel["DSA"] == "| DSA | – | – | 20.0 ± 1.0 | – | – |"
    # the rebalancing rows come from the CRLT-DD record, marked, with its evaluation stated under the table
    assert panel["whole long-tailed set †"].startswith(
        "| whole long-tailed set † | 51.2 | CRLT-DD Table III (LTDD Table 1: 66.2) | 45.0 ± 1.0")
    assert panel["CRLT-DD distill head †"].startswith("| CRLT-DD distill head † | 62.5 | CRLT-DD Table III | "
                                                      "not recorded yet")
    assert "† From the CRLT-DD record (chapter 09), evaluated its own way: DM 200 iterations" in text
    assert "whole long-tailed set" not in comparison_panel(experiment)  # without the record, no such rows


def test_comparison_sentences_read_the_file_and_the_papers_differences(tmp_path, archive):
    from ltdd.studies.recorded import comparison_sentences

    rows = (study_rows("random", [0.25]) + study_rows("DM", [0.35]) + study_rows("IDM", [0.40])
            + study_rows("MTT", [0.30]) + study_rows("LTDD (DAM+ED)", [0.33]) + study_rows("DATM", [0.29]))
    for row, medium in zip(rows[-2:], (0.38, 0.02)):
        row["groups"] = {"shots": {"many": 0.3, "medium": medium}}
    path = write_study(tmp_path / "cmp.json", 10, rows)
    out = record_experiment("comparison", {"beta100": path}, archive[0], tmp_path / "c.json",
                            expected_md5=archive[1])
    sentences = comparison_sentences(load_experiment("comparison", out))
    assert sentences[0] == "Of the 6 rows recorded so far, IDM scores highest, 40.0 %."  # 11 are planned
    # LTDD Table 1, IPC 10: LTDD 53.4, DATM 37.3; the medium-shot classes where both rows have them
    assert ("LTDD (DAM+ED) scores 33.0 % against 29.0 % for DATM (+4.0 points; LTDD's Table 1: +16.1), and on the "
            "medium-shot classes 38.0 % against 2.0 %.") in sentences
    assert "DM scores 35.0 % against 25.0 % for random (+10.0 points)." in sentences  # DM is not in LTDD's table
    # LTDD Table 1, CIFAR-10-LT β = 100, IPC 10: random 34.4, IDM 49.8
    assert "IDM scores 40.0 % against 25.0 % for random (+15.0 points; LTDD's Table 1: +15.4)." in sentences
    assert "k-center against random: not recorded yet." in sentences
    assert "DATM scores 29.0 % against 30.0 % for MTT (-1.0 points; LTDD's Table 1: -0.4)." in sentences
    empty = write_study(tmp_path / "none.json", 10, [])
    out = record_experiment("comparison", {"beta100": empty}, archive[0], tmp_path / "e.json",
                            expected_md5=archive[1])
    assert comparison_sentences(load_experiment("comparison", out)) == ["No row of the comparison is recorded yet."]


def test_accuracy_against_iterations_sentence_and_figure(recorded, tmp_path, archive):
    from ltdd.book.viz.recorded import plot_accuracy_against_iterations
    from ltdd.studies.recorded import convergence_sentence

    rows = [{"label": f"{k} iterations", "iterations": k, "seed": 0, "accuracy": accuracy, "network_std": 0.005,
             "per_class": [accuracy] * 10, "seconds": {"build": 1.0, "evaluate": 1.0}}
            for k, accuracy in ((50, 0.30), (100, 0.36), (200, 0.45), (400, 0.47))]
    path = write_study(tmp_path / "iterations.json", 10, rows)
    out = record_experiment("dm-iterations", {"ipc10": path}, archive[0], tmp_path / "it.json",
                            expected_md5=archive[1])
    experiment, table = load_experiment("dm-iterations", out), load_experiment("dm-family", recorded)
    sentence = convergence_sentence(experiment, table)
    # the paper: DM at IPC 10 on CIFAR-10, 48.9 % after 20,000 iterations (Zhao & Bilen, Table 1)
    assert sentence.startswith("From 50 to 400 iterations, DM at IPC 10 rises from 30.0 % to 47.0 %, +2.0 points "
                               "over the last doubling; the paper reports 48.9 % after 20,000 iterations, 1.9 points")
    assert "(random real images: 29.0 %)" in sentence
    assert "for 200 iterations score 45.0 % here and 45.0 % in the comparison table." in sentence
    assert "still to run: ipc10/800 iterations" in json.loads(out.read_text())["notes"]
    labels = {line.get_label() for line in plot_accuracy_against_iterations(experiment, table).axes[0].get_lines()}
    assert "random real images, ours" in labels and "DM, paper (20,000 iterations)" in labels


def test_the_recording_script_runs_the_rows_each_record_plans():
    import re
    from pathlib import Path

    from ltdd.studies.comparison import COMPARISON_ROWS
    from ltdd.studies.recorded import RECORDED_EXPERIMENTS

    script = (Path(__file__).parents[1] / "benchmarks" / "record_cifar10.sh").read_text()
    stages = re.split(r"^  ([a-z|-]+)\)", script, flags=re.M)
    stage_rows = {}
    for stage, body in zip(stages[1::2], stages[2::2]):
        found = re.search(r'--rows (?:"([^"]+)"|(\S+))', body)
        if found:
            stage_rows[stage] = set((found.group(1) or found.group(2)).split(","))
    comparison = set(RECORDED_EXPERIMENTS["comparison"].planned["beta100"])
    assert stage_rows["comparison"] == comparison and comparison <= set(COMPARISON_ROWS)
    assert stage_rows["dm-family"] == set(RECORDED_EXPERIMENTS["dm-family"].planned["ipc10"])
