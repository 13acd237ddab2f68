"""ltdd.studies: the one study loop (run_study), the Study file, the table, and the named evaluation protocols."""

import json

import pytest

from ltdd.config import get_profile
from ltdd.studies import EVAL_PROTOCOLS, RebalanceStudy, Study, eval_config, run_study, study_table
from ltdd.train import TrainConfig


def _builder(calls):
    def build(label, seed, context):
        calls.append((label, seed, context))
        return {"label": label, "seed": seed, "accuracy": 0.1 * seed + (0.5 if label == "b" else 0.2)}
    return build


def test_run_study_runs_every_row_and_seed_saves_after_each_and_shares_one_context_per_seed(tmp_path):
    calls, saved, started = [], [], []
    out = tmp_path / "study.json"

    def build(label, seed, context):
        saved.append(len(json.loads(out.read_text())["rows"]) if out.exists() else 0)
        return _builder(calls)(label, seed, context)

    def start(seed):
        started.append(seed)
        return f"context {seed}"

    study = run_study({"a": {}, "b": {}}, [0, 1], build, out, study=Study([], {"x": 1, "seeds": [0, 1]}),
                      keys=("x",), record={"commit": "abc"}, progress=False, start_seed=start)
    assert [(label, seed) for label, seed, _ in calls] == [("a", 0), ("b", 0), ("a", 1), ("b", 1)]
    assert [context for _, _, context in calls] == ["context 0", "context 0", "context 1", "context 1"]
    assert started == [0, 1] and saved == [0, 1, 2, 3]  # the file had every earlier row before each new one
    assert json.loads(out.read_text())["rows"] == study.rows and study.settings["commit"] == "abc"
    # order="row": every seed of a row, then the next row
    calls.clear()
    run_study(["a", "b"], [0, 1], _builder(calls), study=Study([], {}), keys=(), progress=False, order="row")
    assert [(label, seed) for label, seed, _ in calls] == [("a", 0), ("a", 1), ("b", 0), ("b", 1)]


def test_run_study_resume_runs_only_what_the_file_lacks_and_refuses_other_settings(tmp_path):
    out = tmp_path / "study.json"
    first = run_study(["a", "b"], [0], _builder([]), out, study=Study([], {"x": 1, "seeds": [0]}), keys=("x",),
                      progress=False)
    calls, left, started = [], [], []
    resumed = run_study(["a", "b"], [0, 1], _builder(calls), out, resume=True,
                        study=Study([], {"x": 1, "seeds": [0, 1]}), keys=("x",), progress=False,
                        start_seed=started.append, after_row=lambda done, todo: left.append((done, todo)))
    assert [(label, seed) for label, seed, _ in calls] == [("a", 1), ("b", 1)]
    assert started == [1]  # nothing is built for a seed whose rows are all in the file
    assert resumed.rows[:2] == first.rows and left == [(1, 1), (2, 0)] and resumed.settings["seeds"] == [0, 1]
    with pytest.raises(ValueError, match=r"written with other settings: x=1 there, 2 now"):
        run_study(["a"], [2], _builder([]), out, resume=True, study=Study([], {"x": 2}), keys=("x",),
                  progress=False)
    # without resume the rows already there are not read (the command line refuses such an --out first)
    calls.clear()
    run_study(["a"], [0], _builder(calls), None, resume=True, study=Study([], {}), keys=(), progress=False)
    assert len(calls) == 1


@pytest.mark.parametrize("seeds, order", [([], "seed"), ([-1], "seed"), ([True], "seed"), ([0], "diagonal")])
def test_run_study_refuses_bad_seeds_and_orders(seeds, order):
    with pytest.raises(ValueError, match="seeds must be|order must be"):
        run_study(["a"], seeds, _builder([]), study=Study([], {}), keys=(), progress=False, order=order)


def test_study_is_rebalance_study_and_its_file_round_trips(tmp_path):
    assert RebalanceStudy is Study
    from ltdd.studies.rebalance import RebalanceStudy as old_name
    assert old_name is Study
    study = Study([{"label": "a", "seed": 0, "accuracy": 0.5}], {"x": 1, "seeds": [0]}, {0: [1.0, 0.5]})
    study.save(tmp_path / "s.json")
    again = Study.load(tmp_path / "s.json")
    assert (again.rows, again.settings, again.simclr) == (study.rows, study.settings, study.simclr)
    (tmp_path / "bad.json").write_text('{"rows": [{"label": 3}]}')
    with pytest.raises(ValueError, match="is not a study file"):
        Study.load(tmp_path / "bad.json")


def test_study_table_columns_and_missing_values():
    rows = [{"label": "a", "seed": s, "accuracy": v, "n": 7, "size": {"images": 40}} for s, v in ((0, 0.5), (1, 0.7))]
    rows.append({"label": "b", "seed": 0, "accuracy": 0.25, "size": {"images": 9, "percent": 12.345}})
    study = Study(rows)
    table = study_table(study, [("overall", "accuracy"), ("tail", "groups.halves.tail")], decimals=1,
                        first=(("n", lambda study, label: str(study.values(label, "n"))),))
    assert table.splitlines() == ["| row | n | overall | tail | images | % of LT set | seeds |",
                                  "|---|---|---|---|---|---|---|",
                                  "| a | [7.0, 7.0] | 60.0 ± 10.0 | – | 40 | – | 2 |",
                                  "| b | [] | 25.0 ± 0.0 | – | 9 | 12.3 | 1 |"]
    assert study_table(study, (), header="method", after=()).splitlines()[2] == "| a |"


# -------------------------------------------------------------------------------------- protocols
# Values typed from the sources (see /work/shared/reference/: dm_family.md §7, tm_family.md "Evaluation",
# datasets_ssl.md CRLT-DD), as (epochs, lr, momentum, weight decay, batch, DSA, schedule).
TYPED = {
    # DC main.py + utils.evaluate_synset on CIFAR: epoch_eval_train 300 without augmentation, batch_train 256
    "dc": (300, 0.01, 0.9, 5e-4, 256, False, "step"),
    # DSA / DM utils.evaluate_synset: epoch_eval_train 1000, SGD 0.01, momentum 0.9, wd 5e-4, batch 256, DSA
    "dm": (1000, 0.01, 0.9, 5e-4, 256, True, "step"),
    # MTT utils.evaluate_synset: 1000 epochs at the learned syn_lr, momentum 0.9, wd 5e-4, batch 256, DSA
    "mtt": (1000, 0.01, 0.9, 5e-4, 256, True, "step"),
    # DATM / LTDD utils/utils_baseline.evaluate_synset: as MTT but batch_train 128
    "datm": (1000, 0.01, 0.9, 5e-4, 128, True, "step"),
    # CRLT-DD Sec. IV-A / utils.evaluate_synset: 500 epochs, lr 0.01, momentum 0.9, wd 5e-4, batch 128, DSA
    "crlt_dd": (500, 0.01, 0.9, 5e-4, 128, True, "step"),
    # CRLT-DD baseline.py: 300 epochs, lr 0.01, batch 256, no augmentation, a constant rate
    "crlt_dd_baseline": (300, 0.01, 0.9, 5e-4, 256, False, "constant"),
}


@pytest.mark.parametrize("name", sorted(TYPED))
def test_each_protocol_matches_its_source(name):
    protocol = EVAL_PROTOCOLS[name]
    c = protocol.config
    assert (c.epochs, c.lr, c.momentum, c.weight_decay, c.batch_size, c.dsa, c.schedule) == TYPED[name]
    assert protocol.learned_lr == (name in ("mtt", "datm"))
    assert "code" in protocol.source or ".py" in protocol.source  # each names the code file it comes from


def test_every_protocol_is_checked_and_eval_config_scales_it():
    assert set(EVAL_PROTOCOLS) == set(TYPED)
    smoke = get_profile("smoke")
    assert eval_config("dm", smoke) == TrainConfig(epochs=smoke.eval_epochs)
    assert eval_config("datm", smoke, learned_lr=0.03).lr == 0.03 and eval_config("datm", smoke).lr == 0.01
    assert eval_config("dm", smoke, learned_lr=0.03).lr == 0.01  # a fixed-rate protocol ignores a learned rate
    assert eval_config("crlt_dd", epochs=7).epochs == 7 and eval_config("crlt_dd").epochs == 500
    with pytest.raises(ValueError, match="protocol 'dsdm' is unknown"):
        eval_config("dsdm")


@pytest.mark.parametrize("name", ["smoke", "cpu", "gpu", "paper"])
def test_the_old_recipe_helpers_give_the_recipes_they_gave_before(name):
    """The four helpers that each built a recipe now read EVAL_PROTOCOLS; their configs are the ones typed here."""
    from types import SimpleNamespace

    from ltdd.studies.comparison import protocol_config
    from ltdd.studies.experiments import evaluation_protocol
    from ltdd.studies.rebalance import crlt_settings, evaluation_config, vanilla_config

    profile = get_profile(name)
    crlt_epochs = 500 if name == "paper" else profile.eval_epochs  # CRLT-DD's 500 epochs under paper
    assert evaluation_protocol(profile) == TrainConfig(epochs=profile.eval_epochs)
    assert evaluation_config(profile) == TrainConfig(epochs=crlt_epochs, batch_size=128)
    assert vanilla_config("baseline.py", crlt_settings(profile)) == TrainConfig(
        epochs=300, lr=0.01, batch_size=256, dsa=False, schedule="constant")
    learned = SimpleNamespace(learned_lr=0.02)
    assert protocol_config("papers", "trajectory", profile, learned)[0] == TrainConfig(
        epochs=profile.eval_epochs, lr=0.02, batch_size=128)
    assert protocol_config("papers", "matching", profile)[0] == TrainConfig(epochs=profile.eval_epochs)
    assert protocol_config("ours", "trajectory", profile, learned)[0] == TrainConfig(epochs=crlt_epochs,
                                                                                     batch_size=128)


def test_combine_and_merge_keep_one_row_per_label_and_seed():
    a = Study([{"label": "x", "seed": 0, "accuracy": 0.1}], {"k": 1, "seeds": [0]}, {0: [1.0]})
    b = Study([{"label": "x", "seed": 0, "accuracy": 0.9}, {"label": "x", "seed": 1, "accuracy": 0.3}],
              {"k": 1, "seeds": [0, 1]}, {1: [2.0]})
    combined = Study.combine(a, b)
    assert [(r["seed"], r["accuracy"]) for r in combined.rows] == [(0, 0.1), (1, 0.3)]  # the first one kept
    assert combined.settings == {"k": 1, "seeds": [0, 1]} and combined.simclr == {0: [1.0], 1: [2.0]}
    with pytest.raises(ValueError, match="other settings: k=2 there, 1 now"):
        a.merge(Study([], {"k": 2}), ("k",))


# ------------------------------------------------------------------ accuracy against iterations (chapter 05)
def test_accuracy_against_iterations_is_one_run_and_resumes_to_the_same_rows(tmp_path):
    from ltdd.studies.comparison import compare_methods
    from ltdd.data import load_dataset
    from ltdd.config import get_profile
    from ltdd.studies.convergence import accuracy_against_iterations

    dataset = load_dataset("digits")
    profile = get_profile("smoke").replace(eval_epochs=2)
    straight = accuracy_against_iterations(dataset, "dm", [1, 3], profile, ipc=2, networks=1, progress=False)
    assert [row["iterations"] for row in straight.rows] == [1, 3]
    # the row at 3 iterations is the comparison's DM row for a 3-iteration run with the same seed
    compared = compare_methods(dataset, profile, [0], {"DM": {"method": "dm"}}, ipc=2, iterations=3, networks=1,
                               progress=False)
    assert straight.rows[1]["accuracy"] == compared.rows[0]["accuracy"]
    assert straight.rows[1]["per_class"] == compared.rows[0]["per_class"]
    # stopped after the first checkpoint, then resumed: the same rows, and the run continues from its checkpoint
    out = tmp_path / "run"
    accuracy_against_iterations(dataset, "dm", [1], profile, ipc=2, networks=1, out=out, progress=False)
    assert (out / "checkpoint.pt").is_file()
    resumed = accuracy_against_iterations(dataset, "dm", [1, 3], profile, ipc=2, networks=1, out=out, resume=True,
                                          progress=False)
    strip = [{k: v for k, v in row.items() if k != "seconds"} for row in resumed.rows]
    assert strip == [{k: v for k, v in row.items() if k != "seconds"} for row in straight.rows]
    assert resumed.rows[0]["seconds"] == Study.load(out / "study.json").rows[0]["seconds"]


@pytest.mark.parametrize("checkpoints, message", [([], "at least one"), ([0, 5], "positive int"),
                                                   ([5, 5], "strictly increasing"), ([10, 5], "strictly")])
def test_checkpoints_must_increase(checkpoints, message):
    from ltdd.studies.convergence import check_checkpoints

    with pytest.raises(ValueError, match=message):
        check_checkpoints(checkpoints)


def test_a_checkpoint_past_the_next_row_is_refused(tmp_path):
    from ltdd.data import load_dataset
    from ltdd.config import get_profile
    from ltdd.studies.convergence import accuracy_against_iterations

    dataset, profile = load_dataset("digits"), get_profile("smoke").replace(eval_epochs=1)
    accuracy_against_iterations(dataset, "dm", [3], profile, ipc=2, networks=1, out=tmp_path, progress=False)
    with pytest.raises(ValueError, match="past 2; a checkpoint cannot go back"):
        accuracy_against_iterations(dataset, "dm", [2, 3], profile, ipc=2, networks=1, out=tmp_path, resume=True,
                                    progress=False)
