"""Trajectory matching (ltdd.distill.tm): DAM, initialisation and soft labels, windows, Expert Decoupling, the
distiller's bad input, checkpoint/resume, the published presets, and the expert diagnostics of LTDD Fig. 5
(ltdd.tm_study)."""

from __future__ import annotations

import warnings

import pytest
import torch
import torch.nn.functional as F

from ltdd.config import make_generator
from ltdd.data import load_dataset
from ltdd.distill import SyntheticSet, make_distiller
from ltdd.distill.tm import (LTDDConfig, TMConfig, dam_loss, dam_weights, expert_network, expert_soft_labels,
                             fill_class, start_window)
from ltdd.distill.tm_presets import PRESETS, preset_table, tm_preset
from ltdd.distill.unroll import soft_label_loss
from ltdd.experts import ExpertConfig, classifier_slice, train_buffer
from ltdd.models import get_model
from ltdd.tm_study import expert_confidence, expert_weight_norms, soft_label_confidence

pytestmark = pytest.mark.usefixtures("one_thread")

WIDTH = 8
SMALL = dict(ipc=3, net_width=WIDTH, syn_steps=3, max_start_epoch=2, lr_img=10.0, lr_teacher=0.05)


@pytest.fixture(scope="module")
def digits_lt():
    return load_dataset("digits-lt")


@pytest.fixture(scope="module")
def buffers(digits_lt, tmp_path_factory):
    root = tmp_path_factory.mktemp("tm")
    rep = train_buffer(digits_lt, root / "rep", 2, ExpertConfig(epochs=4, batch_size=64, lr=0.05),
                       model_options={"width": WIDTH}, progress=False)
    cls = train_buffer(digits_lt, root / "cls", 2, ExpertConfig(epochs=3, batch_size=64, lr=0.05, stage="classifier"),
                       model_options={"width": WIDTH}, representation=rep.path, progress=False)
    return rep, cls


def ltdd(digits_lt, buffers, seed=0, **settings):
    rep, cls = buffers
    return make_distiller("ltdd", digits_lt, seed=seed, buffer=str(rep.path), classifier_buffer=str(cls.path),
                          **{**SMALL, **settings})


# ------------------------------------------------------------------------------------------------ DAM
def test_dam_with_equal_counts_and_no_lambda_is_soft_cross_entropy():
    g = torch.Generator().manual_seed(0)
    logits, label_logits = torch.randn(7, 4, generator=g), torch.randn(7, 4, generator=g)
    hard = torch.randint(4, (7,), generator=g)
    equal = [25, 25, 25, 25]
    for weighting in ("column", "sample"):
        assert torch.allclose(dam_loss(logits, label_logits, equal, weighting=weighting),
                              soft_label_loss(logits, label_logits), atol=1e-6)
        assert torch.allclose(dam_loss(logits, hard, equal, weighting=weighting), F.cross_entropy(logits, hard),
                              atol=1e-6)
    # the code's scale: raw frequencies summing to 1, so C times smaller than cross-entropy
    assert torch.allclose(dam_loss(logits, label_logits, equal, normalize=False),
                          soft_label_loss(logits, label_logits) / 4, atol=1e-6)


def test_dam_weights_follow_class_frequency_and_lambda():
    counts = [500, 100, 50, 10]
    assert torch.allclose(dam_weights(counts, normalize=False), torch.tensor(counts) / 660.0)
    assert torch.allclose(dam_weights(counts, 20.0, normalize=False), (torch.tensor(counts) + 20.0) / 680.0)
    assert dam_weights(counts).mean().item() == pytest.approx(1.0)
    g = torch.Generator().manual_seed(1)
    logits, hard = torch.randn(9, 4, generator=g), torch.randint(4, (9,), generator=g)
    # one-hot targets: column and sample weighting agree, and equal w_{y_i} · CE_i
    w = dam_weights(counts)
    expected = (w[hard] * F.cross_entropy(logits, hard, reduction="none")).mean()
    for weighting in ("column", "sample"):
        assert torch.allclose(dam_loss(logits, hard, counts, weighting=weighting), expected, atol=1e-6)
    # logit adjustment z − λ log s
    adjusted = dam_loss(logits, hard, counts, logit_adjustment=1.0)
    shifted = logits - torch.tensor(counts, dtype=torch.float32).log()
    assert torch.allclose(adjusted, (w[hard] * F.cross_entropy(shifted, hard, reduction="none")).mean(), atol=1e-6)
    with pytest.raises(ValueError, match="class_counts has 3 entries for 4 classes"):
        dam_loss(logits, hard, counts[:3])


# ------------------------------------------------------------------------------------ init and labels
def test_short_classes_are_duplicated_padded_or_refused(digits_lt):
    g = make_generator(0, "fill")
    members = digits_lt.train.class_indices(9)
    found, others = members[:2], members[2:]
    images, noise = fill_class(found, others, 5, "duplicate", 9, digits_lt, g)
    assert noise == 0 and torch.equal(images[2], images[0]) and torch.equal(images[4], images[0])
    images, noise = fill_class(found, others, 5, "noise", 9, digits_lt, g)
    assert noise == 3 and torch.equal(images[:2], digits_lt.train.images[found])
    images, noise = fill_class(found, others, 5, "inherent", 9, digits_lt, g)
    assert noise == 0 and torch.equal(images, digits_lt.train.images[members[:5]])
    too_many = len(members) + 1
    with pytest.raises(ValueError, match=f"ipc={too_many} is more than class 9 can provide with "
                                         f"short_class='inherent' \\({len(members)} real images\\)"):
        fill_class(found, others, too_many, "inherent", 9, digits_lt, g)
    images, noise = fill_class(members[:0], members, 4, "duplicate", 9, digits_lt, g)
    assert noise == 4  # nothing usable: the class becomes noise, as the LTDD code does


def test_inherent_ipc_above_a_class_is_refused_by_the_distiller(digits_lt, buffers):
    smallest = min(digits_lt.train.class_counts(digits_lt.num_classes))
    with pytest.raises(ValueError, match="short_class='inherent'"):
        ltdd(digits_lt, buffers, ipc=smallest + 1, short_class="inherent").init()
    d = ltdd(digits_lt, buffers, ipc=smallest + 1, short_class="duplicate")
    assert len(d.init()) == (smallest + 1) * digits_lt.num_classes
    padded = ltdd(digits_lt, buffers, ipc=smallest + 1, short_class="noise", init="real")
    padded.init()
    counts = digits_lt.train.class_counts(digits_lt.num_classes)
    assert padded.noise_per_class == [max(0, smallest + 1 - n) for n in counts] and padded.noise_images >= 1


def test_soft_labels_average_the_logits_of_the_experts_that_are_right(digits_lt, buffers):
    _, cls = buffers
    template = get_model("convnet", 1, 10, digits_lt.image_size, width=WIDTH)
    images, labels = digits_lt.train.images[:40], digits_lt.train.labels[:40]
    logits, right = expert_soft_labels(images, labels, template, cls)
    per_expert = [expert_network(template, cls, k)(images).detach() for k in range(len(cls))]
    correct = [(z.argmax(1) == labels).float() for z in per_expert]
    total = sum(z * c[:, None] for z, c in zip(per_expert, correct))
    count = sum(correct)
    expected = torch.where(count[:, None] > 0, total / count.clamp_min(1)[:, None], torch.zeros_like(total))
    assert torch.allclose(logits, expected, atol=1e-5) and torch.equal(right, count)


def test_correct_initialisation_picks_images_the_expert_gets_right(digits_lt, buffers):
    d = ltdd(digits_lt, buffers, init_experts=1)
    synthetic = d.init()
    _, cls = buffers
    expert = expert_network(get_model("convnet", 1, 10, digits_lt.image_size, width=WIDTH), cls, 0)
    predicted = expert(d.images).argmax(1)
    hard = synthetic.hard_labels
    # every class the expert gets right at least once is initialised only from images it classifies correctly
    for c in range(10):
        rows = hard == c
        if (predicted[rows] == c).any():
            assert (predicted[rows] == c).all(), c
    assert synthetic.labels.shape == (30, 10) and synthetic.learned_lr == pytest.approx(0.05)


# ------------------------------------------------------------------------------------------- windows
def test_sequential_generation_grows_the_window():
    config = TMConfig(max_start_epoch=20, current_max_start_epoch=10, expansion_end=100)
    assert start_window(config, 0) == (0, 10)
    assert start_window(config, 50) == (0, 15)
    assert start_window(config, 100) == (0, 20) and start_window(config, 500) == (0, 20)
    assert start_window(TMConfig(min_start_epoch=3, max_start_epoch=8), 7) == (3, 8)


def test_bad_windows_and_settings_are_clear_errors(digits_lt, buffers):
    with pytest.raises(ValueError, match=r"the start window \[min_start_epoch, max_start_epoch\) = \[5, 5\) is empty"):
        TMConfig(min_start_epoch=5, max_start_epoch=5)
    with pytest.raises(ValueError, match="current_max_start_epoch=0 must lie in"):
        TMConfig(current_max_start_epoch=0, expansion_end=10)
    with pytest.raises(ValueError, match="grad_mode='adjoint' is not allowed; choose one of"):
        TMConfig(grad_mode="adjoint")
    with pytest.raises(ValueError, match="decoupled=True .* needs classifier_buffer="):
        LTDDConfig(buffer="x")
    with pytest.raises(ValueError, match="mtt needs buffer="):
        make_distiller("mtt", digits_lt, ipc=2)
    # the start window outside the trajectory, and expert epochs beyond the buffer
    with pytest.raises(ValueError, match=r"max_start_epoch=4 with expert_epochs=2 needs expert trajectories of 5 "
                                         r"epochs, but buffer=.* stores 4; choose max_start_epoch <= 3"):
        ltdd(digits_lt, buffers, max_start_epoch=4)
    with pytest.raises(ValueError, match=r"expert_epochs=5 needs .* stores 4; choose max_start_epoch <= 0"):
        ltdd(digits_lt, buffers, max_start_epoch=1, expert_epochs=5)
    with pytest.raises(ValueError, match="second_expert_epochs=3 needs .* classifier_buffer=.* stores 3"):
        ltdd(digits_lt, buffers, second_max_start_epoch=2, second_expert_epochs=3)


def test_buffers_from_other_data_models_or_stages_are_refused(digits_lt, buffers):
    rep, cls = buffers
    with pytest.raises(ValueError, match="trained for other data or another model: .*train_counts="):
        ltdd(load_dataset("digits-lt", imbalance=20), buffers)
    with pytest.raises(ValueError, match="model_options=\\{'width': 8\\} there, \\{'width': 16\\} now"):
        ltdd(digits_lt, buffers, net_width=16)
    with pytest.raises(ValueError, match="dataset_options=\\{\\} there, \\{'zca': 0.1\\} now"):
        ltdd(load_dataset("digits-lt", zca=0.1), buffers)
    with pytest.raises(ValueError, match="classifier_buffer=.* holds representation experts; classifier_buffer "
                                         "needs classifier experts"):
        make_distiller("ltdd", digits_lt, buffer=str(rep.path), classifier_buffer=str(rep.path), **SMALL)
    with pytest.raises(ValueError, match="buffer=.* holds classifier experts; buffer needs representation"):
        make_distiller("mtt", digits_lt, buffer=str(cls.path), **SMALL)


# --------------------------------------------------------------------------------------- the distiller
def test_decoupled_phases_use_the_models_classifier_block(digits_lt, buffers):
    d = ltdd(digits_lt, buffers)
    classifier = classifier_slice(d.template)
    assert d.blocks["classifier"] == classifier and d.blocks["match"] == slice(0, classifier.start)
    assert d.blocks["update"] is None
    metrics = d.run(1, progress=False) and d.step()
    assert {"loss_rep", "loss_cls", "syn_lr"} <= set(metrics)
    assert metrics["loss"] == pytest.approx(0.5 * metrics["loss_rep"] + 1.0 * metrics["loss_cls"])


def test_matching_loss_decreases_with_distillation(digits_lt, buffers):
    """One start epoch, two experts: the matching loss of each expert's window falls as the images learn."""
    rep, _ = buffers
    d = make_distiller("mtt", digits_lt, buffer=str(rep.path), **{**SMALL, "max_start_epoch": 1, "lr_img": 100.0,
                                                                   "dsa": False, "syn_steps": 4})
    by_expert: dict[int, list[float]] = {}
    d.run(12, callbacks=(lambda _d, m: by_expert.setdefault(m["expert"], []).append(m["loss"]),), progress=False)
    for expert, values in by_expert.items():
        assert values[-1] < values[0], (expert, values)


def test_gradient_modes_agree_in_the_distiller(digits_lt, buffers):
    sets = {}
    for mode in ("bptt", "exact", "tesla"):
        d = ltdd(digits_lt, buffers, grad_mode=mode)
        d.run(2, progress=False)
        sets[mode] = (d.images.clone(), float(d.syn_lr), d.label_logits.clone())
    assert torch.allclose(sets["bptt"][0], sets["exact"][0], atol=1e-4)
    assert sets["bptt"][1] == pytest.approx(sets["exact"][1], rel=1e-4)
    assert torch.allclose(sets["bptt"][2], sets["exact"][2], atol=1e-4)
    assert not torch.allclose(sets["bptt"][0], sets["tesla"][0], atol=1e-4)


def test_expert_weight_norms_read_the_asked_expert_and_epoch(digits_lt, buffers):
    rep, _ = buffers
    template = get_model("convnet", 1, 10, digits_lt.image_size, width=WIDTH)
    block = classifier_slice(template)
    features = template.classifier.in_features

    def by_hand(expert, epoch):  # the classifier block of the flat snapshot: weight (C × F), then bias
        weight = rep.snapshot(expert, epoch)[block][:10 * features].reshape(10, features)
        return weight.norm(dim=1).tolist()

    for expert, epoch in ((0, 0), (1, 2), (1, -1)):
        norms = expert_weight_norms(rep, template, expert=expert, epoch=epoch)
        assert norms == pytest.approx(by_hand(expert, rep.epochs if epoch == -1 else epoch), rel=1e-5)
    assert expert_weight_norms(rep, template, 0, 0) != pytest.approx(expert_weight_norms(rep, template, 0, -1))


def test_soft_label_confidence_is_the_mean_probability_of_the_own_class():
    images = torch.zeros(4, 1, 8, 8)
    soft = torch.tensor([[0.9, 0.1], [0.7, 0.3], [0.2, 0.8], [0.4, 0.6]])
    assert soft_label_confidence(SyntheticSet(images, soft, 2)) == pytest.approx([0.8, 0.7])
    assert soft_label_confidence(SyntheticSet(images, torch.tensor([0, 1, 1, 0]), 2)) == [1.0, 1.0]
    with pytest.raises(ValueError, match="same number of images for every class"):
        soft_label_confidence(SyntheticSet(images[:3], soft[:3], 2))


def test_expert_confidence_averages_the_true_class_probability_over_experts(digits_lt, buffers):
    rep, _ = buffers
    template = get_model("convnet", 1, 10, digits_lt.image_size, width=WIDTH)
    images, labels = digits_lt.test.images, digits_lt.test.labels

    def by_hand(expert):
        with torch.no_grad():
            probs = F.softmax(expert_network(template, rep, expert)(images), dim=1)
        return torch.stack([probs[labels == c, c].mean() for c in range(10)])

    assert expert_confidence(rep, template, digits_lt, experts=1) == pytest.approx(by_hand(0).tolist(), rel=1e-5)
    both = ((by_hand(0) + by_hand(1)) / 2).tolist()
    assert expert_confidence(rep, template, digits_lt) == pytest.approx(both, rel=1e-5)
    for bad in (0, 3, 1.5):
        with pytest.raises(ValueError, match=r"experts must be an int in \[1, 2\]"):
            expert_confidence(rep, template, digits_lt, experts=bad)


def test_threshold_gate_skips_the_update(digits_lt, buffers):
    d = ltdd(digits_lt, buffers, threshold=1e-9)
    d.init()
    before = d.images.clone()
    metrics = d.step()
    assert metrics["updated"] is False and torch.equal(d.images, before)


def test_checkpoint_resumes_to_the_same_result(digits_lt, buffers):
    straight = ltdd(digits_lt, buffers, seed=3)
    straight.run(4, progress=False)
    first = ltdd(digits_lt, buffers, seed=3)
    first.run(2, progress=False)
    state = first.state_dict()
    resumed = ltdd(digits_lt, buffers, seed=3)
    resumed.load_state_dict(state)
    resumed.run(2, progress=False)
    assert torch.equal(straight.images, resumed.images)
    assert torch.equal(straight.label_logits, resumed.label_logits)
    assert float(straight.syn_lr) == float(resumed.syn_lr)
    assert straight.synthetic.learned_lr == resumed.synthetic.learned_lr
    with pytest.raises(ValueError, match="other settings: .*lambda_cls=1.0 there, 0.3 now"):
        ltdd(digits_lt, buffers, seed=3, lambda_cls=0.3).load_state_dict(state)


# ------------------------------------------------------------------------------------------- presets
def test_every_preset_builds_valid_settings():
    for preset in PRESETS:
        TMConfig(ipc=preset.ipc, buffer="rep", classifier_buffer="cls", **preset.settings)
        for stage, settings in preset.experts.items():
            assert ExpertConfig(**settings).stage == stage
    flagged = [(p.imbalance, p.ipc) for p in PRESETS if p.flag]
    assert flagged == [(10, 10), (50, 50), (200, 50)]
    assert "⚠ corrected" in preset_table("ltdd")


def test_presets_reproduce_the_published_numbers_and_flag_bad_configs():
    preset = tm_preset("ltdd", "cifar10-lt", 50, 100)
    assert preset.settings["syn_steps_second"] == 60 and preset.settings["lr_img"] == 1000.0
    assert (preset.settings["lambda_rep"], preset.settings["lambda_cls"]) == (1.0, 0.5)
    assert preset.settings["dam_normalize"] is False and preset.experts["representation"]["weight_decay"] == 5e-3
    assert preset.dataset_options == {"imbalance": 100, "zca": 0.1}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tm_preset("datm", "cifar10", 10)  # no warning for a consistent config
    with pytest.warns(UserWarning, match="file for IPC 50 says ipc: 20"):
        assert tm_preset("ltdd", "cifar10-lt", 50, 200).ipc == 50
    with pytest.raises(ValueError, match="no published 'ltdd' setting for dataset='cifar10-lt', ipc=30"):
        tm_preset("ltdd", "cifar10-lt", 30, 100)


def test_recorded_memory_table_reads_back():
    from ltdd.reference import ltdd_table, tm_memory_table

    table = tm_memory_table()
    assert set(table) == {"bptt", "exact", "tesla"} and 40 in table["exact"]
    assert table["exact"][40]["peak_mb"] <= 1.2 * table["exact"][5]["peak_mb"]
    assert table["bptt"][20]["peak_mb"] > 3 * table["bptt"][5]["peak_mb"]
    assert "| LTDD | 53.4 | 58.2 | 64.0 |" in ltdd_table()
