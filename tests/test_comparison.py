"""All methods under one protocol (ltdd.studies.comparison) and the real-repeat initialisation it relies on."""

import dataclasses
import json

import pytest
import torch

from ltdd.cli import main
from ltdd.studies.comparison import (COMPARISON_ROWS, SCALED_SETTINGS, check_rows, compare_methods, comparison_table,
                                     family, group_summary, protocol_config, row_families)
from ltdd.config import get_profile, make_generator
from ltdd.data import load_dataset
from ltdd.distill import SyntheticSet, make_distiller, sample_real_per_class
from ltdd.studies.rebalance import RebalanceStudy
from ltdd.studies.tm_study import TM_SCALE
from ltdd.book.viz import plot_method_comparison


@pytest.fixture(scope="module")
def long_tailed():
    return load_dataset("digits-lt", imbalance=10)


def tiny_profile():
    return get_profile("smoke").replace(eval_epochs=2, eval_seeds=1, iterations=2)


def tiny_scale():
    return dataclasses.replace(TM_SCALE["smoke"], experts=1, expert_epochs=2, classifier_epochs=1, iterations=1,
                               distill={**TM_SCALE["smoke"].distill, "max_start_epoch": 1, "syn_steps": 2})


TINY_ROWS = {"random": {"method": "random"}, "DM": {"method": "dm"}, "MTT": {"method": "mtt"},
             "CRLT-DD distill all": {"plan": "distill-all"}}


# ------------------------------------------------------------------------------------ real-repeat
def test_repeat_draws_every_image_of_a_short_class_and_reuses_them_evenly(long_tailed):
    counts = long_tailed.train.class_counts(10)
    need = 20
    images, labels = sample_real_per_class(long_tailed, need, make_generator(0, "t"), repeat=True)
    assert labels.tolist() == [c for c in range(10) for _ in range(need)]
    for c, n in enumerate(counts):
        drawn = images[labels == c].flatten(1)
        real = long_tailed.train.images[long_tailed.train.labels == c].flatten(1)
        # which real image each drawn one is
        match = (drawn[:, None, :] == real[None, :, :]).all(-1).float().argmax(1)
        uses = torch.bincount(match, minlength=n)
        if n >= need:
            assert uses.max() == 1  # a large class is drawn without replacement
        else:
            assert uses.min() >= need // n and uses.max() <= -(-need // n)  # every image, each at most ⌈need/n⌉


def test_repeat_leaves_large_classes_drawn_as_before(long_tailed):
    plain, _ = sample_real_per_class(long_tailed, 10, make_generator(3, "t"))
    repeated, _ = sample_real_per_class(long_tailed, 10, make_generator(3, "t"), repeat=True)
    assert torch.equal(plain, repeated)


def test_idm_refuses_short_classes_unless_asked_to_repeat(long_tailed):
    with pytest.raises(ValueError, match="real-repeat"):
        make_distiller("idm", long_tailed, ipc=5)
    for method in ("idm", "dsdm"):
        distiller = make_distiller(method, long_tailed, ipc=5, init="real-repeat", net_width=16)
        synthetic = distiller.init()
        assert len(synthetic) == 50 and torch.isfinite(synthetic.images).all()


# ------------------------------------------------------------------------------------------ rows
def test_every_book_method_and_crlt_plan_is_a_row():
    methods = {spec.get("method") for spec in COMPARISON_ROWS.values()}
    assert {"random", "herding", "kcenter", "dc", "dsa", "dm", "idm", "dsdm", "mtt", "datm", "ltdd"} <= methods
    plans = {spec.get("plan") for spec in COMPARISON_ROWS.values()}
    assert {"distill-all", "distill-head", "vanilla"} <= plans
    assert any(spec.get("simclr") for spec in COMPARISON_ROWS.values())
    assert {family(spec) for spec in COMPARISON_ROWS.values()} == {"coreset", "matching", "trajectory",
                                                                     "rebalancing"}
    check_rows(COMPARISON_ROWS)


@pytest.mark.parametrize("rows, message", [
    ({}, "at least one row"),
    ({"x": {"method": "dm", "plan": "vanilla"}}, "exactly one of"),
    ({"x": {}}, "exactly one of"),
    ({"x": {"method": "nope"}}, "unknown method"),
    ({"x": {"plan": "nope"}}, "plan"),
    ({"x": {"method": "dm", "colour": 1}}, "unknown keys"),
])
def test_bad_rows_are_refused_by_name(rows, message):
    with pytest.raises(ValueError, match=message):
        check_rows(rows)


def test_scaled_settings_are_accepted_by_their_methods(long_tailed):
    for profile_name, methods in SCALED_SETTINGS.items():
        for method, settings in methods.items():
            extra = {"init": "real-repeat"} if method in ("idm", "dsdm") else {}
            make_distiller(method, long_tailed, ipc=2, **settings, **extra)  # raises on an unknown field


# --------------------------------------------------------------------------------------- protocol
def test_our_protocol_is_one_recipe_for_every_family():
    profile = get_profile("smoke")
    fast = SyntheticSet(torch.zeros(10, 1, 16, 16), torch.arange(10), 10, learned_lr=0.3)
    configs = [protocol_config("ours", f, profile, fast) for f in ("coreset", "matching", "trajectory",
                                                                     "rebalancing")]
    assert len({repr(c) for c in configs}) == 1
    config, options = configs[0]
    assert config.lr == 0.01 and config.batch_size == 128 and config.epochs == profile.eval_epochs
    assert options == profile.model_options()


def test_papers_protocol_trains_trajectory_sets_at_their_learned_step():
    profile = get_profile("smoke")
    fast = SyntheticSet(torch.zeros(10, 1, 16, 16), torch.arange(10), 10, learned_lr=0.3)
    config, options = protocol_config("papers", "trajectory", profile, fast, TM_SCALE["smoke"])
    assert config.lr == 0.3 and options == {"width": TM_SCALE["smoke"].net_width}
    assert protocol_config("papers", "matching", profile)[0].batch_size == 256  # DC/DSA/DM reference
    with pytest.raises(ValueError, match="protocol"):
        protocol_config("best", "matching", profile)


# ----------------------------------------------------------------------------------------- study
@pytest.fixture(scope="module")
def tiny_study(long_tailed, tmp_path_factory):
    out = tmp_path_factory.mktemp("compare") / "study.json"
    study = compare_methods(long_tailed, tiny_profile(), seeds=(0,), rows=TINY_ROWS, scale=tiny_scale(),
                            ipc=2, out=out, progress=False)
    return study, out


def test_every_row_is_evaluated_per_shot_group(tiny_study, long_tailed):
    study, out = tiny_study
    assert study.labels() == list(TINY_ROWS)
    counts = long_tailed.train.class_counts(10)
    for row in study.rows:
        assert 0 <= row["accuracy"] <= 1 and len(row["per_class"]) == 10
        assert set(row["groups"]["shots"]) == {"many", "medium", "few"}
        few = [a for a, n in zip(row["per_class"], counts) if n < 20]
        assert row["groups"]["shots"]["few"] == pytest.approx(sum(few) / len(few))
    sizes = {row["label"]: row["size"]["stored"] for row in study.rows}
    assert sizes["random"] == sizes["DM"] == sizes["MTT"] == 20
    assert sizes["CRLT-DD distill all"] == 10 * min(counts)
    mtt = next(row for row in study.rows if row["label"] == "MTT")
    assert mtt["learned_lr"] is not None and mtt["eval_lr"] == 0.01  # ours: not the learned step
    assert RebalanceStudy.load(out).rows == json.loads(json.dumps(study.rows))


def test_same_seed_same_table_and_resume_adds_only_new_seeds(tiny_study, long_tailed, tmp_path):
    study, out = tiny_study
    again = compare_methods(long_tailed, tiny_profile(), seeds=(0,), rows=TINY_ROWS, scale=tiny_scale(), ipc=2,
                            progress=False)
    assert [r["accuracy"] for r in again.rows] == [r["accuracy"] for r in study.rows]
    copy = tmp_path / "study.json"
    copy.write_text(out.read_text())
    resumed = compare_methods(long_tailed, tiny_profile(), seeds=(0, 1), rows={"random": TINY_ROWS["random"],
                              "DM": TINY_ROWS["DM"], "MTT": TINY_ROWS["MTT"],
                              "CRLT-DD distill all": TINY_ROWS["CRLT-DD distill all"]},
                              scale=tiny_scale(), ipc=2, out=copy, resume=True, progress=False)
    assert [(r["label"], r["seed"]) for r in resumed.rows[:4]] == [(r["label"], 0) for r in study.rows]
    assert resumed.rows[:4] == json.loads(out.read_text())["rows"]
    assert sorted({r["seed"] for r in resumed.rows}) == [0, 1] and resumed.settings["seeds"] == [0, 1]
    with pytest.raises(ValueError, match="other settings"):
        compare_methods(long_tailed, tiny_profile(), seeds=(0,), rows=TINY_ROWS, scale=tiny_scale(), ipc=3,
                        out=copy, resume=True, progress=False)


# ------------------------------------------------------------------------- a row stopped mid-distillation
def count_steps(monkeypatch, method: str, dataset) -> list:
    """Patch ``method``'s distiller class to note every step it takes; returns the list of notes."""
    cls, steps = type(make_distiller(method, dataset, ipc=1)), []
    original = cls.step
    monkeypatch.setattr(cls, "step", lambda self: (steps.append(self.iteration), original(self))[1])
    return steps


def test_distill_checkpoint_resumes_to_the_same_set_losses_and_refuses_what_does_not_fit(long_tailed, tmp_path,
                                                                                          monkeypatch):
    from ltdd.studies import experiments

    monkeypatch.setattr(experiments, "CHECKPOINT_EVERY", 2)
    profile, path = tiny_profile(), tmp_path / "dm.pt"
    straight = experiments.distill("dm", long_tailed, 2, 5, profile, seed=3, progress=False)
    experiments.distill("dm", long_tailed, 2, 3, profile, seed=3, progress=False, checkpoint=path)
    assert torch.load(path, weights_only=True)["iteration"] == 3  # the end of a run is saved, not only every 2
    steps = count_steps(monkeypatch, "dm", long_tailed)
    resumed = experiments.distill("dm", long_tailed, 2, 5, profile, seed=3, progress=False, checkpoint=path)
    assert torch.equal(resumed.synthetic.images, straight.synthetic.images)
    assert resumed.losses == straight.losses and resumed.iterations == 5
    assert steps == [3, 4]  # it went on from the checkpoint
    with pytest.raises(ValueError, match="other settings"):
        experiments.distill("dm", long_tailed, 2, 6, profile, seed=3, progress=False, checkpoint=path, lr_img=7.0)
    with pytest.raises(ValueError, match="at iteration 5, past the 4 asked for"):
        experiments.distill("dm", long_tailed, 2, 4, profile, seed=3, progress=False, checkpoint=path)


def test_a_comparison_row_resumes_from_its_checkpoint_to_the_uninterrupted_row(long_tailed, tmp_path,
                                                                               monkeypatch):
    from ltdd.studies.comparison import row_checkpoint, scaled_settings
    from ltdd.studies.experiments import distill

    profile, rows = tiny_profile().replace(iterations=3), {"DM": {"method": "dm"}}
    first = tmp_path / "a" / "study.json"
    first.parent.mkdir()
    straight = compare_methods(long_tailed, profile, rows=rows, ipc=2, out=first, progress=False)
    saved = torch.load(row_checkpoint(first, "DM", 0, resume=True), weights_only=True)
    assert saved["iteration"] == 3 and len(saved["losses"]) == 3  # the row's final set stays beside the study
    # a run stopped after one iteration of its DM row: only the checkpoint exists, no study row
    second = tmp_path / "b" / "study.json"
    second.parent.mkdir()
    distill("dm", long_tailed, 2, 1, profile, seed=0, progress=False, checkpoint=row_checkpoint(second, "DM", 0, True),
            **scaled_settings("dm", profile))
    steps = count_steps(monkeypatch, "dm", long_tailed)
    resumed = compare_methods(long_tailed, profile, rows=rows, ipc=2, out=second, resume=True, progress=False)
    for key in ("accuracy", "per_class", "groups"):
        assert resumed.rows[0][key] == straight.rows[0][key]
    assert steps == [1, 2]
    assert row_checkpoint(second, "LTDD (DAM+ED)", 4, True).name == "study_LTDD-DAM-ED_seed4.pt"
    assert not row_checkpoint(second, "DM", 0, resume=False).exists()  # starting over removes the old run


def test_table_shows_every_row_with_mean_and_std_per_group(tiny_study):
    study, _ = tiny_study
    table = comparison_table(study)
    lines = table.splitlines()
    assert lines[0].startswith("| method | family | overall | many | medium | few |")
    assert len(lines) == 2 + len(TINY_ROWS)
    summary = group_summary(study)
    dm = next(line for line in lines if line.startswith("| DM |"))
    assert f"{100 * summary['DM']['few'][0]:.1f} ± " in dm


def test_bad_seeds_and_protocol_are_refused(long_tailed):
    with pytest.raises(ValueError, match="seeds"):
        compare_methods(long_tailed, tiny_profile(), seeds=(), rows=TINY_ROWS, progress=False)
    with pytest.raises(ValueError, match="protocol"):
        compare_methods(long_tailed, tiny_profile(), rows=TINY_ROWS, protocol="best", progress=False)


def test_cli_refuses_an_unknown_row(tmp_path, capsys):
    assert main(["compare", "--profile", "smoke", "--rows", "random,Nope", "--out", str(tmp_path)]) == 2
    assert "Nope" in capsys.readouterr().err


def test_cli_compares_on_a_balanced_set(tmp_path):
    """The distribution-matching papers compare DM with the coresets on balanced CIFAR-10; compare allows it."""
    out = tmp_path / "balanced"
    assert main(["compare", "--profile", "smoke", "--dataset", "digits", "--rows", "random", "--ipc", "1",
                 "--quiet", "--out", str(out)]) == 0
    study = json.loads((out / "study.json").read_text())
    assert study["settings"]["dataset"] == "digits" and study["settings"]["imbalance"] is None
    assert [row["label"] for row in study["rows"]] == ["random"]


def test_figure_has_a_panel_per_group_and_a_bar_per_method(tiny_study):
    study, _ = tiny_study
    summary = group_summary(study)
    fig = plot_method_comparison(summary, families=row_families(study))
    assert [ax.get_title() for ax in fig.axes] == ["overall", "many", "medium", "few"]
    for ax in fig.axes:
        widths = sorted(round(bar.get_width(), 6) for bar in ax.patches)
        assert len(widths) == len(TINY_ROWS)
    ticks = {round(tick.get_position()[1]): tick.get_text() for tick in fig.axes[0].get_yticklabels()}
    overall = {ticks[round(bar.get_y() + bar.get_height() / 2)]: bar.get_width() for bar in fig.axes[0].patches}
    assert overall["DM"] == pytest.approx(100 * summary["DM"]["overall"][0])
    assert list(ticks[y] for y in sorted(ticks, reverse=True)) == list(TINY_ROWS)  # first row on top
    with pytest.raises(ValueError, match="at least one"):
        plot_method_comparison({})


def test_the_comparisons_simclr_pretraining_is_kept_beside_the_study(long_tailed, tmp_path, monkeypatch):
    import ltdd.studies.comparison as comparison

    seen = []
    original = comparison.pretrain_encoder

    def pretrain(dataset, profile, seed, epochs, checkpoint=None, progress=False):
        seen.append(checkpoint)
        return original(dataset, profile, seed, epochs, checkpoint, progress)

    monkeypatch.setattr(comparison, "pretrain_encoder", pretrain)
    rows = {"CRLT-DD sample all + SimCLR": {"plan": "sample-all", "simclr": True}}
    out = tmp_path / "compare.json"
    compare_methods(long_tailed, tiny_profile(), rows=rows, networks=1, simclr_epochs=1, out=out, progress=False)
    assert seen == [tmp_path / "compare_simclr_seed0.pt"]
    assert torch.load(seen[0], weights_only=True)["epochs_done"] == 1
