"""Distilling biased data: DeDM, the GCE bias network, the bias sweep and its command."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F

from ltdd.studies.biased import BiasSweep, bias_sweep, check_bias_ratios, colour_alignment, severity_table, sweep_table
from ltdd.book.viz import plot_bias_sweep_curves
from ltdd.cli import main, parse_method_spec
from ltdd.config import get_profile
from ltdd.data import load_dataset
from ltdd.distill.debias import BiasModelConfig, estimate_aligned, generalized_cross_entropy
from ltdd.distill import make_distiller
from ltdd.distill.dedm import debiased_class_loss
from ltdd.distill.matching import class_means, mean_embedding_distance

pytestmark = pytest.mark.usefixtures("one_thread")

SMALL = {"ipc": 2, "batch_real": 16, "net_width": 8}


@pytest.fixture(scope="module")
def conflicting_only():
    return load_dataset("cdigits", bias_ratio=0.0, device="cpu")


@pytest.fixture(scope="module")
def skewed():
    return load_dataset("cdigits", bias_ratio=0.95, device="cpu")


# ----------------------------------------------------------------------------------------- the loss
def test_debiased_loss_by_hand():
    real = torch.tensor([[4.0, 0.0], [0.0, 2.0], [2.0, 2.0]])  # one class: row 0 aligned, rows 1-2 not
    aligned = torch.tensor([True, False, False])
    synthetic_mean = torch.tensor([[1.0, 1.0]])
    loss = debiased_class_loss(real, torch.zeros(3, dtype=torch.long), aligned, synthetic_mean, 0.25, 0.5,
                               push="constant")
    target = 0.75 * torch.tensor([1.0, 2.0]) + 0.25 * torch.tensor([4.0, 0.0])  # (1.75, 1.5)
    expected = (target - synthetic_mean[0]).pow(2).sum() - 0.5 * (torch.tensor([4.0, 0.0]) - synthetic_mean[0]).pow(2).sum()
    assert loss.item() == pytest.approx(expected.item())


def test_without_aligned_rows_the_loss_is_dm_loss():
    g = torch.Generator().manual_seed(0)
    real, synthetic = torch.randn(12, 5, generator=g), torch.randn(6, 5, generator=g)
    groups = torch.arange(3).repeat_interleave(4)
    ours = debiased_class_loss(real, groups, torch.zeros(12, dtype=torch.bool), class_means(synthetic, [2, 2, 2]),
                               0.1, 0.7)
    dm = mean_embedding_distance(class_means(real, [4, 4, 4]), class_means(synthetic, [2, 2, 2]))
    torch.testing.assert_close(ours, dm)


def test_the_loss_is_minimal_at_the_pushed_unbiased_mean():
    g = torch.Generator().manual_seed(1)
    real = torch.randn(10, 3, generator=g)
    aligned = torch.tensor([True] * 7 + [False] * 3)
    rho, lam = 0.1, 0.4
    mu_a, mu_x = real[aligned].mean(0), real[~aligned].mean(0)
    mu_g = (1 - rho) * mu_x + rho * mu_a
    optimum = (mu_g + lam / (1 - lam) * (mu_g - mu_a)).requires_grad_(True)
    loss = debiased_class_loss(real, torch.zeros(10, dtype=torch.long), aligned, optimum[None], rho, lam,
                               push="constant")
    (grad,) = torch.autograd.grad(loss.sum(), optimum)
    assert grad.abs().max().item() < 1e-5


def test_the_excess_push_scales_with_the_excess_of_aligned_rows():
    real = torch.tensor([[4.0, 0.0], [0.0, 2.0], [2.0, 2.0], [1.0, 1.0]])
    groups, mean = torch.zeros(4, dtype=torch.long), torch.tensor([[1.0, 1.0]])
    fair = torch.tensor([True, False, False, False])  # aligned share 1/4 = rho: an unbiased class
    no_push = debiased_class_loss(real, groups, fair, mean, 0.25, 0.0)
    assert debiased_class_loss(real, groups, fair, mean, 0.25, 0.5).item() == pytest.approx(no_push.item())
    skewed = torch.tensor([True, True, True, False])  # share 3/4: excess (3/4 - 1/4) / (3/4) = 2/3
    aligned_mean = real[:3].mean(0)
    expected = (debiased_class_loss(real, groups, skewed, mean, 0.25, 0.0)
                - 0.5 * (2 / 3) * (aligned_mean - mean[0]).pow(2).sum())
    assert debiased_class_loss(real, groups, skewed, mean, 0.25, 0.5).item() == pytest.approx(expected.item())
    with pytest.raises(ValueError, match="push"):
        debiased_class_loss(real, groups, skewed, mean, 0.25, 0.5, push="always")


# ----------------------------------------------------------------------------------------- the method
def test_oracle_with_every_image_conflicting_equals_plain_dm(conflicting_only):
    assert not (conflicting_only.train.attributes == conflicting_only.train.labels).any()
    dm = make_distiller("dm", conflicting_only, seed=3, **SMALL).run(3, progress=False)
    dedm = make_distiller("dedm", conflicting_only, seed=3, push_weight=0.5, **SMALL).run(3, progress=False)
    torch.testing.assert_close(dedm.images, dm.images, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("forward", ["batched", "per_class"])
def test_with_aligned_images_dedm_moves_away_from_dm(skewed, forward):
    dm = make_distiller("dm", skewed, seed=3, forward=forward, **SMALL).run(2, progress=False)
    dedm = make_distiller("dedm", skewed, seed=3, forward=forward, **SMALL).run(2, progress=False)
    assert (dedm.images - dm.images).abs().max().item() > 1e-3


def test_both_forward_paths_give_the_same_dedm_set(skewed):
    sets = [make_distiller("dedm", skewed, seed=5, forward=f, **SMALL).run(2, progress=False)
            for f in ("batched", "per_class")]
    torch.testing.assert_close(sets[0].images, sets[1].images, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("settings, message", [
    ({"push_weight": -0.1}, "push_weight"),
    ({"push_weight": 1.0}, "push_weight"),
    ({"aligned_share": 1.5}, "aligned_share"),
    ({"bias_source": "labels"}, "bias_source"),
    ({"push": "always"}, "push"),
    ({"bias_source": "gce", "gce_q": 0.0}, "gce_q"),
])
def test_bad_settings_are_refused_by_name(skewed, settings, message):
    with pytest.raises(ValueError, match=message):
        make_distiller("dedm", skewed, **SMALL, **settings)


def test_oracle_needs_attributes_and_gce_does_not():
    digits = load_dataset("digits", device="cpu")
    with pytest.raises(ValueError, match="no bias attributes.*bias_source='gce'"):
        make_distiller("dedm", digits, **SMALL)
    distiller = make_distiller("dedm", digits, bias_source="gce", bias_epochs=1, **SMALL)
    assert distiller.estimate.precision is None and distiller.aligned.shape == digits.train.labels.shape


# ----------------------------------------------------------------------------------------- the bias network
def test_generalized_cross_entropy_and_its_gradient():
    logits = torch.tensor([[2.0, 0.0, -1.0], [0.0, 1.0, 0.0]], requires_grad=True)
    labels = torch.tensor([0, 2])
    p = F.softmax(logits, 1)[[0, 1], labels]
    q = 0.7
    loss = generalized_cross_entropy(logits, labels, q)
    assert loss.item() == pytest.approx(((1 - p ** q) / q).mean().item())
    # d GCE / d logits = p_y^q × d CE / d logits, sample by sample
    (grad,) = torch.autograd.grad(loss, logits)
    ce_grad = torch.autograd.grad(F.cross_entropy(logits, labels, reduction="sum"), logits)[0]
    torch.testing.assert_close(grad, (p.detach() ** q)[:, None] * ce_grad / 2)
    with pytest.raises(ValueError, match="q"):
        generalized_cross_entropy(logits, labels, 0.0)


def test_the_gce_network_finds_the_aligned_images(skewed):
    estimate = estimate_aligned(skewed, BiasModelConfig(epochs=8, lr=0.1), model_options={"width": 16})
    assert estimate.precision > 0.95 and estimate.recall > 0.9, (estimate.precision, estimate.recall)
    assert estimate.losses[-1] < estimate.losses[0]


# ----------------------------------------------------------------------------------------- colour and sweep
def test_colour_alignment_tells_aligned_from_conflicting_images(skewed):
    train = skewed.train
    aligned = train.attributes == train.labels
    assert colour_alignment(train.images[aligned], train.labels[aligned], skewed) > 0.95
    assert colour_alignment(train.images[~aligned], train.labels[~aligned], skewed) < 0.1
    with pytest.raises(ValueError, match="coloured biased dataset"):
        digits = load_dataset("digits", device="cpu")
        colour_alignment(digits.train.images[:4], digits.train.labels[:4], digits)


@pytest.mark.parametrize("ratios", [[1.2], [-0.1], [0.5, 0.5], [], [True]])
def test_bias_ratios_outside_the_unit_interval_are_refused(ratios):
    with pytest.raises(ValueError, match="ratio"):
        check_bias_ratios(ratios)


def test_a_tiny_sweep_round_trips_and_tabulates(tmp_path):
    profile = get_profile("smoke").replace(eval_epochs=2, eval_seeds=1, full_epochs=1)
    sweep = bias_sweep({"DM": {"method": "dm"}}, "digits", [0.1, 1.0], [4], profile, ipc=2, iterations=1,
                       seeds=[0], progress=False)
    assert [row["bias_ratio"] for row in sweep.rows] == [0.1, 1.0] and len(sweep.full) == 2
    for row in sweep.rows + sweep.full:
        assert 0 <= row["conflicting_test"] <= 1
    loaded = BiasSweep.load(sweep.save(tmp_path / "sweep.json"))
    assert loaded.rows == sweep.rows and loaded.settings["dataset"] == "cdigits"
    table = sweep_table(loaded)
    assert "ratio 0.1" in table and "full set" in table and "DM" in table
    assert "severity 4" in severity_table(loaded, 1.0)
    assert plot_bias_sweep_curves(loaded).axes
    with pytest.raises(ValueError, match="method"):
        bias_sweep({"DM": {}}, "digits", [0.1], profile=profile)


def test_method_specs_of_the_command_line():
    assert parse_method_spec("dm") == ("dm", {"method": "dm"})
    assert parse_method_spec("DeDM (GCE)=dedm:bias_source=gce,push_weight=0.25") == (
        "DeDM (GCE)", {"method": "dedm", "bias_source": "gce", "push_weight": 0.25})
    with pytest.raises(ValueError, match="KEY=VALUE"):
        parse_method_spec("dm:nonsense=1")


def test_bias_sweep_command_writes_rows_and_provenance(smoke, capsys):
    out = smoke / "sweep.json"
    code = main(["bias-sweep", "dm", "--ratios", "0.5", "--iterations", "1", "--ipc", "2", "--no-full-set",
                 "--out", str(out), "--quiet"])
    assert code == 0
    record = json.loads(out.read_text())
    assert record["settings"]["command"].startswith("python -m ltdd bias-sweep")
    assert len(record["rows"]) == 1 and record["rows"][0]["bias_ratio"] == 0.5
    assert main(["bias-sweep", "dm", "--ratios", "0.5,1.5", "--out", str(out)]) == 2
    assert "bias ratio 1.5 is not allowed" in capsys.readouterr().err


def test_a_stopped_sweep_resumes_to_the_same_rows(tmp_path):
    profile = get_profile("smoke").replace(eval_epochs=2, eval_seeds=1)
    args = ({"DM": {"method": "dm"}}, "digits", [0.5], [4], profile)
    options = {"ipc": 2, "iterations": 1, "full_set": False, "progress": False}
    straight = bias_sweep(*args, seeds=[0, 1], **options)
    out = tmp_path / "sweep.json"
    bias_sweep(*args, seeds=[0], out=out, **options)  # "stopped" after seed 0
    resumed = bias_sweep(*args, seeds=[0, 1], out=out, resume=True, **options)
    assert len(resumed.synthetic) == 1  # only seed 1 was distilled again

    def strip(rows):
        return [{k: v for k, v in row.items() if k != "seconds"} for row in rows]

    assert strip(resumed.rows) == strip(straight.rows)
    assert BiasSweep.load(out).settings["seeds"] == [0, 1]
    with pytest.raises(ValueError, match="ipc=2 there, 3 now"):
        bias_sweep(*args, seeds=[0], out=out, resume=True, **{**options, "ipc": 3})


def test_sweeps_combine_and_select():
    a = BiasSweep([{"label": "DM", "bias_ratio": 0.1, "severity": 4, "seed": 0, "conflicting_test": 0.9,
                    "seconds": 2.0}], [{"bias_ratio": 0.1, "severity": 4, "conflicting_test": 0.95}], {"ipc": 5})
    b = BiasSweep([{"label": "DC", "bias_ratio": 1.0, "severity": 4, "seed": 0, "conflicting_test": 0.2,
                    "seconds": 4.0}], [{"bias_ratio": 0.1, "severity": 4, "conflicting_test": 0.95}])
    both = BiasSweep.combine(a, b)
    assert both.labels() == ["DM", "DC"] and len(both.full) == 1 and both.settings == {"ipc": 5}
    assert both.select(labels=["DC"]).labels() == ["DC"]
    assert both.select(ratios=[0.1]).ratios() == [0.1] and both.seconds_per_set("DC") == 4.0
    with pytest.raises(KeyError, match="DSA"):
        both.seconds_per_set("DSA")


# ------------------------------------------------------------------------------ Biased-DD's own settings
def test_reference_quotes_biased_dd_tables_1_and_2():
    from ltdd.reference import BIASED_DD_RATIOS_PRINTED, BIASED_DD_TABLE_1, BIASED_DD_TABLE_2, biased_dd_table_1

    # typed from Biased-DD (Lu et al., 2024) Table 1 (severity 4, IPC 50) and Table 2 (DM, IPC 50)
    assert BIASED_DD_RATIOS_PRINTED == (0.0, 0.1, 0.5, 0.8, 0.95, 1.0)
    assert BIASED_DD_TABLE_1["cmnist-dd"]["full set"][4] == (95.22, 0.11)
    assert BIASED_DD_TABLE_1["cmnist-dd"]["dc"][5] == (0.23, 0.18)
    assert BIASED_DD_TABLE_1["cmnist-dd"]["dm"] == ((97.42, 0.02), (97.32, 0.04), (94.03, 0.32), (74.15, 0.09),
                                                    (12.92, 0.53), (6.45, 0.91))
    assert BIASED_DD_TABLE_1["ccifar10-dd"]["dsa"] == ((49.52, 0.29), (48.72, 0.50), (42.86, 0.35), (37.45, 0.44),
                                                       (34.24, 0.61), (33.31, 0.46))
    assert BIASED_DD_TABLE_1["ccifar10-dd"]["full set"][0] == (73.77, 0.35)
    assert BIASED_DD_TABLE_2[("ccifar10-dd", 1.0)] == ((49.92, 0.10), (50.06, 0.44), (45.10, 0.13), (36.68, 0.15))
    assert BIASED_DD_TABLE_2[("cmnist-dd", 0.0)][3] == BIASED_DD_TABLE_1["cmnist-dd"]["dm"][0]  # the same run
    assert "65.10 ± 2.26" in biased_dd_table_1()


def test_biased_dd_protocols_are_the_sources():
    from ltdd.studies.biased import BIASED_DD_IPC, FULL_SET_CONTROL, own_protocol

    assert BIASED_DD_IPC == 50  # Biased-DD Sec. 4.3
    # Biased-DD Sec. 4.2: batch 256, weight decay 5e-4, 150 epochs, momentum 0.9, SGD 0.01, ×0.1 at 50 and 100
    c = FULL_SET_CONTROL
    assert (c.batch_size, c.weight_decay, c.epochs, c.momentum, c.lr) == (256, 5e-4, 150, 0.9, 0.01)
    assert (c.schedule, c.milestones, c.passes) == ("multistep", (50, 100), 150)
    # DC main.py: get_daparam gives crop_scale_rotate on MNIST (1000 epochs), none elsewhere (300 epochs);
    # DSA (main.py with --method DSA) and DM (main_DM.py): DSA, 1000 epochs
    mnist, cifar = own_protocol("dc", digit_data=True), own_protocol("dc", digit_data=False)
    assert (mnist.epochs, mnist.dsa, mnist.dsa_strategy) == (1000, True, "crop_scale_rotate")
    assert (cifar.epochs, cifar.dsa) == (300, False)
    for method in ("dsa", "dm"):
        config = own_protocol(method, digit_data=False)
        assert (config.epochs, config.dsa, config.dsa_strategy) == (1000, True, None)


def test_bias_sweep_under_the_paper_profile_runs_biased_dds_settings(monkeypatch):
    import ltdd.studies.biased as biased

    seen = {"distilled": [], "evaluated": [], "full": []}

    class Synthetic:
        def to(self, device):
            return self

    class Tiny:
        def run(self, iterations, progress=False):
            seen["iterations"] = iterations
            return Synthetic()

    def distiller(method, dataset, seed=0, profile=None, ipc=None, **settings):
        seen["distilled"].append((method, ipc))
        return Tiny()

    def evaluate(synthetic, dataset, lff_test, profile, config=None):
        seen["evaluated"].append(config)
        return {"conflicting_test": 0.5, "lff_aligned": 0.5, "lff_conflicting": 0.5}

    def full(name, ratios, severity, settings, seeds=None, **_):
        seen["full"].append((settings, seeds))
        return {}

    monkeypatch.setattr(biased, "make_distiller", distiller)
    monkeypatch.setattr(biased, "evaluate_on_bias_splits", evaluate)
    monkeypatch.setattr(biased, "full_set_bias_sweep", full)
    monkeypatch.setattr(BiasSweep, "save", lambda self, path: path)
    monkeypatch.setattr(biased, "_lff_test", lambda *a: None)
    monkeypatch.setattr(biased, "load_dataset", lambda *a, **k: load_dataset("cdigits", bias_ratio=0.5))
    sweep = biased.bias_sweep({"DC": {"method": "dc"}}, ratios=[0.5], profile=get_profile("paper"),
                              progress=False)
    assert seen["distilled"] == [("dc", 50)] and seen["iterations"] == 1000
    assert (seen["evaluated"][0].epochs, seen["evaluated"][0].dsa_strategy) == (1000, "crop_scale_rotate")  # digits
    assert seen["full"] == [(biased.FULL_SET_CONTROL, 3)]
    assert sweep.settings["ipc"] == 50


def test_full_epochs_sets_the_full_set_controls_training_and_is_recorded(monkeypatch, capsys):
    import ltdd.studies.biased as biased

    seen = []

    def full(name, ratios, severity, settings, seeds=None, **_):
        seen.append(settings.full_epochs)
        return {}

    monkeypatch.setattr(biased, "full_set_bias_sweep", full)
    profile = get_profile("smoke").replace(eval_epochs=1, eval_seeds=1)
    args = ({"DM": {"method": "dm"}}, "digits", [0.5], [4])
    sweep = biased.bias_sweep(*args, profile, ipc=1, iterations=1, progress=False, full_epochs=3)
    assert seen == [3] and sweep.settings["full_epochs"] == 3
    assert biased.bias_sweep(*args, profile, ipc=1, iterations=1, progress=False).settings["full_epochs"] == 6
    with pytest.raises(ValueError, match="full_epochs must be a positive int"):
        biased.bias_sweep(*args, profile, full_epochs=0)
    with pytest.raises(ValueError, match="full_epochs must be None under the paper profile"):
        biased.bias_sweep(*args, get_profile("paper"), full_epochs=3)
    assert main(["bias-sweep", "dm", "--full-epochs", "0", "--out", "unused.json"]) == 2
    assert "--full-epochs must be a positive int" in capsys.readouterr().err


def test_without_a_config_each_method_takes_its_papers_setting():
    from ltdd.distill.coreset import CoresetConfig, HerdingConfig, HerdingSelection, KCenterSelection
    from ltdd.distill.dedm import DeDM, DeDMConfig
    from ltdd.distill.dm import DM, DMConfig

    dataset = load_dataset("cdigits")
    assert DM(dataset).config == DMConfig() and DeDM(dataset).config == DeDMConfig()
    assert HerdingSelection(dataset).config == HerdingConfig()
    assert KCenterSelection(dataset).config == CoresetConfig()


def test_the_full_set_control_is_saved_ratio_by_ratio_and_resumes_where_it_stopped(monkeypatch, tmp_path):
    import ltdd.studies.biased as biased

    calls = []

    class Point:
        def __init__(self, ratio):
            self.accuracy, self.aligned, self.conflicting = ratio / 2, 0.9, 0.1

    def full(name, ratios, severity, settings, seeds=None, **_):
        calls.append(list(ratios))
        if len(calls) == 2 and interrupt:
            raise KeyboardInterrupt  # the machine stops during the second ratio's control
        return {ratio: Point(ratio) for ratio in ratios}

    monkeypatch.setattr(biased, "full_set_bias_sweep", full)
    profile = get_profile("smoke").replace(eval_epochs=1, eval_seeds=1)
    args = ({"DM": {"method": "dm"}}, "digits", [0.5, 1.0], [4], profile)
    out = tmp_path / "sweep.json"
    interrupt = True
    with pytest.raises(KeyboardInterrupt):
        biased.bias_sweep(*args, ipc=1, iterations=1, progress=False, out=out)
    saved = json.loads(out.read_text())["full"]
    assert [(row["bias_ratio"], row["conflicting_test"]) for row in saved] == [(0.5, 0.25)]
    interrupt, calls[:] = False, []
    sweep = biased.bias_sweep(*args, ipc=1, iterations=1, progress=False, out=out, resume=True)
    assert calls == [[1.0]]  # only the ratio whose control was lost
    assert [(row["bias_ratio"], row["conflicting_test"]) for row in sweep.full] == [(0.5, 0.25), (1.0, 0.5)]
    assert [row["epochs"] for row in sweep.full] == [profile.full_epochs] * 2
    with pytest.raises(ValueError, match=r"full_epochs=2 but .* holds full-set rows trained for 6 epochs"):
        biased.bias_sweep(*args, ipc=1, iterations=1, progress=False, out=out, resume=True, full_epochs=2)
    saved = json.loads(out.read_text())
    for row in saved["full"]:
        del row["epochs"]  # as written before rows recorded their epochs: the file's full_epochs says
    out.write_text(json.dumps(saved))
    with pytest.raises(ValueError, match="full_epochs=2 but .* holds full-set rows trained for 6 epochs"):
        biased.bias_sweep(*args, ipc=1, iterations=1, progress=False, out=out, resume=True, full_epochs=2)
    assert biased.bias_sweep(*args, ipc=1, iterations=1, progress=False, out=out, resume=True).full
