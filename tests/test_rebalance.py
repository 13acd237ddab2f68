"""CRLT-DD's rebalancing plans (ltdd.studies.rebalance): budgets from counts, the sets they build, errors, the study."""

from __future__ import annotations

import json

import pytest
import torch

from ltdd.config import get_profile
from ltdd.data import counts_only, load_dataset
from ltdd.studies.rebalance import (PLANS, TABLE_III_ROWS, RebalanceStudy, augmentation_copies, budget_table,
                                    check_plan, head_classes, median_class_size, plan_budget, rebalance,
                                    rebalance_study, restrict_classes, study_table)

pytestmark = pytest.mark.usefixtures("one_thread")

SMOKE = get_profile("smoke")

# (dataset, β) → (LT images, distill-all images, its %, distill-head images at the median, its %):
# worked out by hand from the LDAM counts (sum of the smallest half, ⌊median⌋) and rounded to 2 places.
PAPER_SETTINGS = {
    ("cifar10-lt", 10): (20431, 5000, 24.47, 12412, 60.75),
    ("cifar10-lt", 50): (13996, 1000, 7.14, 5043, 36.03),
    ("cifar10-lt", 100): (12406, 500, 4.03, 3471, 27.98),
    ("cifar100-lt", 10): (19573, 5000, 25.55, 12498, 63.85),
    ("cifar100-lt", 50): (12608, 1000, 7.93, 5016, 39.78),
    ("cifar100-lt", 100): (10847, 500, 4.61, 3396, 31.31),
}


@pytest.fixture(scope="module")
def digits_lt():
    return load_dataset("digits-lt")


# ----------------------------------------------------------------------------------------------- budgets
@pytest.mark.parametrize(("name", "beta"), sorted(PAPER_SETTINGS))
def test_budgets_equal_the_formulas(name, beta):
    counts = counts_only(name, beta)
    total, all_images, all_percent, head_images, head_percent = PAPER_SETTINGS[(name, beta)]
    assert sum(counts) == total
    C = len(counts)
    for plan in ("distill-all", "sample-all"):  # Eq. 2: every class to n_min
        budget = plan_budget(plan, counts)
        assert budget.total == C * min(counts) == all_images
        assert round(budget.percent, 2) == all_percent
        assert budget.per_class == [min(counts)] * C
    for plan in ("distill-head", "sample-head"):  # Eq. 3-4: head half to the median, tail half kept
        budget = plan_budget(plan, counts)
        median = int(sorted(counts)[C // 2 - 1] + sorted(counts)[C // 2]) // 2  # C is even here
        assert budget.ipc == median
        assert budget.total == C // 2 * median + sum(sorted(counts)[: C // 2]) == head_images
        assert round(budget.percent, 2) == head_percent
    assert plan_budget("vanilla", counts).total == total


def test_paper_ipc_500_for_cifar10_lt_head():
    budget = plan_budget("distill-head", counts_only("cifar10-lt", 100), ipc=500)
    assert budget.per_class == [500] * 5 + [387, 232, 139, 83, 50]
    assert (budget.total, round(budget.percent, 2)) == (3391, 27.33)
    assert (sum(budget.synthetic), sum(budget.real)) == (2500, 891)


def test_augmented_plan_grows_to_the_median():
    counts = counts_only("cifar10-lt", 100)
    budget = plan_budget("distill-all-aug", counts)  # n_min 50, n_med 516: 10 copies of every image
    assert budget.per_class == [500] * 10
    assert (sum(budget.synthetic), sum(budget.augmented)) == (500, 4500)
    assert augmentation_copies(50, 516) == 10
    assert plan_budget("distill-all-aug", counts, aug_target=120).per_class == [100] * 10


def test_budget_table_lists_every_plan_but_vanilla():
    rows = budget_table(counts_only("cifar10-lt", 100), ipc_head=500)
    assert [row["plan"] for row in rows] == list(PLANS[1:])
    assert {row["plan"]: row["images"] for row in rows}["distill-head"] == 3391


def test_head_is_the_larger_half():
    assert head_classes([5, 50, 7, 30, 9]) == [1, 3]  # odd C: the median class (9) is tail
    assert head_classes([4, 4, 4, 4]) == [0, 1]        # ties: lower index first
    assert median_class_size([10, 7, 3, 1]) == 5       # (7 + 3) / 2
    assert median_class_size([9, 8, 1]) == 8


# ------------------------------------------------------------------------------------------------ errors
def test_ipc_above_a_condensed_class_is_refused():
    counts = [100, 60, 30, 10]
    with pytest.raises(ValueError, match=r"ipc=61.*class 1 has \(60\).*ipc <= 60"):
        plan_budget("distill-head", counts, ipc=61)
    with pytest.raises(ValueError, match=r"ipc=11 .*choose ipc <= 10"):
        plan_budget("distill-all", counts, ipc=11)
    with pytest.raises(ValueError, match="ipc must be a positive int"):
        plan_budget("sample-head", counts, ipc=0)
    with pytest.raises(ValueError, match="ipc does not apply to plan 'vanilla'"):
        plan_budget("vanilla", counts, ipc=5)
    with pytest.raises(ValueError, match="aug_target must be an int >= the distilled size"):
        plan_budget("distill-all-aug", counts, aug_target=5)


def test_unknown_plan_is_refused():
    with pytest.raises(ValueError, match=r"plan='distill-tail' is unknown; choose one of \['vanilla'"):
        check_plan("distill-tail")
    assert check_plan("Distill_Head") == "distill-head"


def test_imbalance_below_one_is_refused():
    with pytest.raises(ValueError, match="imbalance must be a finite number >= 1"):
        load_dataset("digits-lt", imbalance=0.5)


# -------------------------------------------------------------------------------------------- the sets
def test_restrict_classes_relabels(digits_lt):
    part = restrict_classes(digits_lt, [7, 2])
    assert part.num_classes == 2 and part.class_names == [digits_lt.class_names[7], digits_lt.class_names[2]]
    counts = digits_lt.train.class_counts(10)
    assert part.train.class_counts(2) == [counts[7], counts[2]]
    assert torch.equal(part.train.images[part.train.labels == 0], digits_lt.train.images[digits_lt.train.labels == 7])
    with pytest.raises(ValueError, match="classes must be distinct labels"):
        restrict_classes(digits_lt, [3, 3])


def test_distill_head_keeps_the_tail_byte_identical(digits_lt):
    result = rebalance(digits_lt, "distill-head", iterations=2, profile=SMOKE, progress=False)
    counts = digits_lt.train.class_counts(10)
    head = head_classes(counts)
    assert result.class_counts(10) == result.budget.per_class
    real = ~result.synthetic_rows
    for c in range(10):
        kept = result.images[real & (result.labels == c)]
        if c in head:
            assert len(kept) == 0
            assert int(((result.labels == c) & result.synthetic_rows).sum()) == median_class_size(counts)
        else:
            assert torch.equal(kept, digits_lt.train.images[digits_lt.train.labels == c])


def test_distill_all_condenses_every_class(digits_lt):
    result = rebalance(digits_lt, "distill-all", iterations=2, profile=SMOKE, progress=False)
    n_min = min(digits_lt.train.class_counts(10))
    assert bool(result.synthetic_rows.all()) and result.class_counts(10) == [n_min] * 10
    assert result.size_report()["images"] == len(result) == 10 * n_min


def test_augmented_copies_reuse_the_distilled_images(digits_lt):
    cache: dict = {}
    plain = rebalance(digits_lt, "distill-all", iterations=2, profile=SMOKE, progress=False, cache=cache)
    grown = rebalance(digits_lt, "distill-all-aug", aug_target=30, iterations=2, profile=SMOKE, progress=False,
                      cache=cache)
    assert len(cache) == 1  # condensed once
    assert torch.equal(grown.images[: len(plain)], plain.images)
    assert grown.class_counts(10) == [24] * 10  # 12 per class, 30 // 12 = 2 copies
    assert not torch.equal(grown.images[len(plain):], plain.images)  # the copies are augmented


def test_sample_plans_pick_distinct_real_images(digits_lt):
    result = rebalance(digits_lt, "sample-head", seed=3, profile=SMOKE)
    assert not result.synthetic_rows.any()
    flat = digits_lt.train.images.flatten(1)
    matches = (result.images.flatten(1)[:, None, :] == flat[None]).all(dim=2)
    assert bool((matches.sum(dim=1) >= 1).all())                    # every image is a training image
    assert len(set(matches.float().argmax(dim=1).tolist())) == len(result)  # no image twice
    again = rebalance(digits_lt, "sample-head", seed=3, profile=SMOKE)
    other = rebalance(digits_lt, "sample-head", seed=4, profile=SMOKE)
    assert torch.equal(result.images, again.images) and not torch.equal(result.images, other.images)


def test_same_seed_same_distilled_set(digits_lt):
    first = rebalance(digits_lt, "distill-all", iterations=3, profile=SMOKE, seed=1, progress=False)
    second = rebalance(digits_lt, "distill-all", iterations=3, profile=SMOKE, seed=1, progress=False)
    assert torch.equal(first.images, second.images)


def test_rebalanced_set_round_trips(digits_lt, tmp_path):
    result = rebalance(digits_lt, "sample-all", profile=SMOKE)
    loaded = type(result).load(result.save(tmp_path / "set.pt"))
    assert torch.equal(loaded.images, result.images) and loaded.budget == result.budget


# ----------------------------------------------------------------------------------------------- study
def test_study_saves_resumes_and_refuses_other_settings(digits_lt, tmp_path):
    rows = {"vanilla": {"plan": "vanilla"}, "sample all": {"plan": "sample-all"}}
    profile = SMOKE.replace(eval_epochs=2)
    out = tmp_path / "study.json"
    first = rebalance_study(digits_lt, rows, profile, seeds=[0], networks=1, out=out, progress=False)
    assert [(r["label"], r["seed"]) for r in first.rows] == [("vanilla", 0), ("sample all", 0)]
    saved = json.loads(out.read_text())
    assert saved["settings"]["networks"] == 1 and len(saved["rows"]) == 2
    resumed = rebalance_study(digits_lt, rows, profile, seeds=[0, 1], networks=1, out=out, resume=True,
                              progress=False)
    assert [(r["label"], r["seed"]) for r in resumed.rows][:2] == [("vanilla", 0), ("sample all", 0)]
    assert resumed.rows[0] == first.rows[0]  # not re-run
    assert len(resumed.rows) == 4 and resumed.settings["seeds"] == [0, 1]
    with pytest.raises(ValueError, match="eval_epochs=2 there, 3 now"):
        rebalance_study(digits_lt, rows, SMOKE.replace(eval_epochs=3), seeds=[0], networks=1, out=out,
                        resume=True, progress=False)
    table = study_table(RebalanceStudy.load(out))
    assert "| vanilla |" in table and "| 2 |" in table  # two seeds per row
    report = resumed.report("sample all")
    assert report.seeds == [0, 1] and len(report.per_class) == 10


def test_table_iii_rows_name_real_plans():
    assert len(TABLE_III_ROWS) == 8
    assert {check_plan(spec["plan"]) for spec in TABLE_III_ROWS.values()} <= set(PLANS)
    assert sum(bool(spec.get("simclr")) for spec in TABLE_III_ROWS.values()) == 2


def test_partitioned_methods_are_refused(digits_lt):
    with pytest.raises(ValueError, match=r"'idm' stores 2×2 partitioned images.*rebalance with partition=False"):
        rebalance(digits_lt, "distill-all", method="idm", iterations=1, profile=SMOKE, progress=False, init="noise")


def test_compare_pairs_rows_by_seed():
    rows = [{"label": label, "seed": seed, "accuracy": value, "groups": {"halves": {"tail": value / 2}}}
            for label, seed, value in [("a", 0, 0.8), ("a", 1, 0.9), ("a", 2, 0.7), ("b", 0, 0.5), ("b", 1, 0.6),
                                       ("b", 3, 0.1)]]
    study = RebalanceStudy(rows)
    paired = study.compare("a", "b")
    assert paired.seeds == [0, 1] and paired.differences == pytest.approx([0.3, 0.3])
    assert paired.wins == 2 and paired.clear  # 30 points apart, spreads of 5 points
    assert "+30.0 points on average, positive in 2 of 2 seeds: the overall improved." in paired.sentence("overall")
    assert study.compare("b", "a", "groups.halves.tail").mean_difference == pytest.approx(-0.15)
    close = RebalanceStudy([{"label": "a", "seed": s, "accuracy": v} for s, v in [(0, 0.5), (1, 0.7)]]
                           + [{"label": "b", "seed": s, "accuracy": v} for s, v in [(0, 0.55), (1, 0.6)]])
    assert not close.compare("a", "b").clear and "not clearly" in close.compare("a", "b").sentence()
    mixed = RebalanceStudy([{"label": "a", "seed": s, "accuracy": v} for s, v in [(0, 0.9), (1, 0.9), (2, 0.6)]]
                           + [{"label": "b", "seed": s, "accuracy": v} for s, v in [(0, 0.5), (1, 0.5), (2, 0.7)]])
    assert mixed.compare("a", "b").mean_difference > 0.2 and not mixed.compare("a", "b").clear  # 2 of 3 seeds
    assert "no seed has both" in study.compare("a", "missing").sentence()


def test_sentences_name_their_keys_in_words_and_render_as_markdown():
    from ltdd.studies.rebalance import key_name

    assert key_name("accuracy") == "overall accuracy"
    assert key_name("groups.shots.few") == "few-shot accuracy"
    assert key_name("groups.halves.tail") == "tail-half accuracy"
    assert key_name("groups.bias.conflicting") == "conflicting accuracy (bias)"
    rows = [{"label": label, "seed": seed, "accuracy": v, "groups": {"shots": {"few": v / 2}}}
            for label, seed, v in [("DM", 0, 0.8), ("DM", 1, 0.9), ("random", 0, 0.5), ("random", 1, 0.6)]]
    paired = RebalanceStudy(rows).compare("DM", "random", "groups.shots.few")
    sentence = paired.sentence()
    assert sentence.startswith("**DM**, few-shot accuracy:") and "the few-shot accuracy improved" in sentence
    assert "groups.shots" not in sentence and paired._repr_markdown_() == sentence


# ----------------------------------------------------------------------------------- CRLT-DD's own tables
# CRLT-DD Table IV "The percentage of the distilled data size compared to the original data size", typed from
# the paper as printed: (dataset label, "Method" column, Baseline, Distill Head, Distill All)
TABLE_IV_AS_PRINTED = [
    ("CIFAR10-LT", "IF=10", 100.00, 36.52, 25.55),
    ("CIFAR10-LT", "50", 100.00, 33.65, 15.72),
    ("CIFAR10-LT", "100", 100.00, 31.77, 4.61),
    ("CIFAR100-LT", "10", 100.00, 34.00, 24.47),
    ("CIFAR100-LT", "50", 100.00, 30.59, 14.69),
    ("CIFAR100-LT", "100", 100.00, 27.33, 4.03),
]


def test_reference_holds_table_iv_as_printed():
    from ltdd.reference import CRLT_DD_TABLE_IV_PRINTED

    assert CRLT_DD_TABLE_IV_PRINTED == TABLE_IV_AS_PRINTED


def test_plan_budget_reproduces_all_of_table_iv_with_the_three_readings():
    from ltdd.reference import decode_crlt_dd_table_iv
    from ltdd.studies.rebalance import PAPER_HEAD_IPC

    # the readings: datasets swapped, the printed "50" is β = 20, distill head at IPC 500 / 50 for every β
    assert PAPER_HEAD_IPC == {"cifar10-lt": 500, "cifar100-lt": 50}
    expected_keys = {("CIFAR10-LT", "IF=10"): ("cifar100-lt", 10), ("CIFAR10-LT", "50"): ("cifar100-lt", 20),
                     ("CIFAR10-LT", "100"): ("cifar100-lt", 100), ("CIFAR100-LT", "10"): ("cifar10-lt", 10),
                     ("CIFAR100-LT", "50"): ("cifar10-lt", 20), ("CIFAR100-LT", "100"): ("cifar10-lt", 100)}
    cells = 0
    for label, column, baseline, head, everything in TABLE_IV_AS_PRINTED:
        name, beta = decode_crlt_dd_table_iv(label, column)
        assert (name, beta) == expected_keys[(label, column)]
        counts = counts_only(name, beta)
        assert round(plan_budget("vanilla", counts).percent, 2) == baseline
        assert round(plan_budget("distill-head", counts, ipc=PAPER_HEAD_IPC[name]).percent, 2) == head
        assert round(plan_budget("distill-all", counts).percent, 2) == everything
        cells += 2
    assert cells == 12
    # read as printed (no swap, β = 50, the median head) not one non-trivial cell would match
    for label, column, _, head, everything in TABLE_IV_AS_PRINTED:
        counts = counts_only(label.lower(), int(column.removeprefix("IF=")))
        assert round(plan_budget("distill-head", counts).percent, 2) != head
        assert round(plan_budget("distill-all", counts).percent, 2) != everything
    with pytest.raises(ValueError, match="method_label"):
        decode_crlt_dd_table_iv("CIFAR10-LT", "20")


def test_reference_holds_every_row_of_table_iii():
    from ltdd.reference import CRLT_DD_TABLE_III

    # CRLT-DD Table III, typed from the paper: rows sample all, + aug, sample head, sample all with SimCLR
    assert CRLT_DD_TABLE_III["cifar10-lt"]["sample all"] == {10: 72.45, 50: 66.25, 100: 49.94}
    assert CRLT_DD_TABLE_III["cifar10-lt"]["distill all + aug"] == {10: 74.87, 50: 63.10, 100: 59.54}
    assert CRLT_DD_TABLE_III["cifar10-lt"]["sample head"] == {10: 77.89, 50: 67.50, 100: 62.03}
    assert CRLT_DD_TABLE_III["cifar10-lt"]["sample all + SimCLR"] == {10: 72.78, 50: 67.31, 100: 52.01}
    assert CRLT_DD_TABLE_III["cifar100-lt"]["sample all"] == {10: 33.40, 50: 26.07, 100: 12.10}
    assert CRLT_DD_TABLE_III["cifar100-lt"]["distill all + aug"] == {10: 39.76, 50: 23.77, 100: 19.34}
    assert CRLT_DD_TABLE_III["cifar100-lt"]["sample head"] == {10: 41.58, 50: 30.29, 100: 28.32}
    assert CRLT_DD_TABLE_III["cifar100-lt"]["sample all + SimCLR"] == {10: 35.35, 50: 28.82, 100: 14.33}
    assert set(CRLT_DD_TABLE_III["cifar10-lt"]) == set(TABLE_III_ROWS)


def test_paper_profile_runs_crlt_dds_setting():
    from ltdd.studies.rebalance import crlt_settings, evaluation_config, vanilla_config

    # CRLT-DD Sec. IV-C: DM for 4000 iterations, lr 1.0, batch 128; Sec. IV-A: evaluation 500 epochs, batch 128;
    # code SimCLR/run.py: 100 epochs; head IPC 500 (Sec. IV-C) / 50 (Table IV decoded)
    paper = get_profile("paper")
    settings = crlt_settings(paper, "cifar10-lt")
    assert (settings.iterations, settings.batch_real, settings.eval_epochs, settings.eval_batch,
            settings.simclr_epochs, settings.ipc_head) == (4000, 128, 500, 128, 100, 500)
    assert dict(settings.dm_settings)["lr_img"] == 1.0
    assert crlt_settings(paper, "cifar100-lt").ipc_head == 50
    assert (evaluation_config(paper).epochs, evaluation_config(paper).batch_size) == (500, 128)
    # the code's baseline.py: 300 epochs, lr 0.01, batch 256, no augmentation
    baseline = vanilla_config("baseline.py", settings)
    assert (baseline.epochs, baseline.lr, baseline.batch_size, baseline.dsa) == (300, 0.01, 256, False)
    assert vanilla_config("crlt", settings).epochs == 500
    with pytest.raises(ValueError, match="vanilla_protocol"):
        vanilla_config("lfF", settings)
    assert crlt_settings(SMOKE).iterations == SMOKE.iterations and crlt_settings(SMOKE).ipc_head is None


def test_study_trains_the_vanilla_row_with_the_chosen_protocol(digits_lt, monkeypatch):
    import ltdd.studies.rebalance as rebalance_module

    used = {}
    real = rebalance_module.evaluate_rebalanced

    def recording(rebalanced, dataset, profile, seed, encoder, config=None, networks=None):
        used[rebalanced.details["plan"]] = config
        return real(rebalanced, dataset, profile.replace(eval_epochs=1), seed, encoder, networks=networks)

    monkeypatch.setattr(rebalance_module, "evaluate_rebalanced", recording)
    study = rebalance_study(digits_lt, {"vanilla": {"plan": "vanilla"}, "sample all": {"plan": "sample-all"}},
                            SMOKE.replace(eval_seeds=1), seeds=(0,), iterations=1, progress=False,
                            vanilla_protocol="baseline.py")
    assert study.settings["vanilla_protocol"] == "baseline.py"
    assert (used["vanilla"].epochs, used["vanilla"].batch_size, used["vanilla"].dsa) == (300, 256, False)
    assert used["sample-all"] is None  # every other row: the CRLT-DD evaluation


def test_distill_classes_runs_crlt_dds_dm_under_the_paper_profile(digits_lt, monkeypatch):
    import ltdd.distill as distill_module
    from ltdd.studies.rebalance import distill_classes

    seen = {}

    class Stop(Exception):
        pass

    def recording(method, dataset, seed=0, profile=None, **settings):
        seen.update(settings)
        raise Stop

    monkeypatch.setattr(distill_module, "make_distiller", recording)
    with pytest.raises(Stop):
        distill_classes(digits_lt, [0, 1], 2, "dm", profile=get_profile("paper"), progress=False)
    # CRLT-DD Sec. IV-C: lr 1.0, batch 128; main_DM.py: a step after every class
    assert (seen["lr_img"], seen["batch_real"], seen["step_per_class"]) == (1.0, 128, True)
    seen.clear()
    with pytest.raises(Stop):
        distill_classes(digits_lt, [0, 1], 2, "dm", profile=SMOKE, progress=False)
    assert "step_per_class" not in seen


def test_a_stopped_simclr_pretraining_resumes_epoch_by_epoch_to_the_same_row(digits_lt, tmp_path, monkeypatch):
    from ltdd.ssl import SimCLRTrainer

    rows = {"sample all + SimCLR": {"plan": "sample-all", "simclr": True}}
    profile = SMOKE.replace(eval_epochs=2)
    options = {"seeds": [0], "networks": 1, "simclr_epochs": 3, "progress": False}
    straight = rebalance_study(digits_lt, rows, profile, out=tmp_path / "straight.json", **options)

    run_epoch, epochs_run, stop = SimCLRTrainer.epoch, [], [True]

    def stop_in_the_second_epoch(self):
        epochs_run.append(len(self.losses))
        if len(self.losses) == 1 and stop[0]:
            stop[0] = False
            raise KeyboardInterrupt
        return run_epoch(self)

    monkeypatch.setattr(SimCLRTrainer, "epoch", stop_in_the_second_epoch)
    out = tmp_path / "study.json"
    with pytest.raises(KeyboardInterrupt):
        rebalance_study(digits_lt, rows, profile, out=out, **options)
    checkpoint = tmp_path / "study_simclr_seed0.pt"
    assert torch.load(checkpoint, weights_only=True)["epochs_done"] == 1
    resumed = rebalance_study(digits_lt, rows, profile, out=out, resume=True, **options)
    assert epochs_run == [0, 1, 1, 2]  # the resumed run trains epochs 2 and 3 only
    assert resumed.rows[0]["accuracy"] == straight.rows[0]["accuracy"]
    assert resumed.simclr[0] == straight.simclr[0]
    epochs_run.clear()
    rebalance_study(digits_lt, rows, profile, out=out, **options)  # starting over discards the old pre-training
    assert epochs_run == [0, 1, 2]
