"""Distribution matching: DM, IDM, DSDM and the machinery they share (ltdd.distill.matching)."""

from __future__ import annotations

import math
import shutil

import pytest
import torch

from ltdd.augment import DSA
from ltdd.data import load_dataset
from ltdd.data.core import ImageDataset, LabeledImages
from ltdd.distill import (DM, DSDM, IDM, DMConfig, DSDMConfig, IDMConfig, SyntheticSet, expand_partitions,
                          make_distiller, tile_partitions)
from ltdd.distill.dsdm import covariance, covariance_distance
from ltdd.distill.idm import command_settings
from ltdd.files import atomic_save
from ltdd.distill.matching import (ClassBalancedSampler, apply_per_class_steps, class_means,
                                   mean_embedding_distance, momentum_step, per_class_lookahead)
from ltdd.models import get_model

pytestmark = pytest.mark.usefixtures("one_thread")

SMALL = {"batch_real": 16, "net_width": 8}
IDM_SMALL = {**SMALL, "queue_size": 3, "push_interval": 2, "net_train_steps": 2, "net_batch": 32}
DSDM_SMALL = {**SMALL, "num_pretrained": 2, "pretrain_epochs": 1, "history_warmup": 1}


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", device="cpu")


def tiny_dataset(counts=(6, 5, 1), size=8, channels=1) -> ImageDataset:
    g = torch.Generator().manual_seed(0)
    labels = torch.cat([torch.full((n,), c) for c, n in enumerate(counts)])
    images = torch.randn(len(labels), channels, size, size, generator=g)
    split = LabeledImages(images, labels)
    return ImageDataset("tiny", split, split, [str(c) for c in range(len(counts))], (0.5,) * channels,
                        (0.25,) * channels, False)


# ------------------------------------------------------------------------------------- the loss
def test_dm_loss_equals_a_hand_computation():
    real = torch.tensor([[1.0, 2.0], [3.0, 4.0], [0.0, 1.0], [2.0, 1.0], [4.0, 4.0]])
    synthetic = torch.tensor([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]])
    real_means = class_means(real, [2, 3])  # [2, 3] and [2, 2]
    synthetic_means = class_means(synthetic, [1, 2])  # [0, 0] and [1.5, 1.5]
    assert torch.allclose(real_means, torch.tensor([[2.0, 3.0], [2.0, 2.0]]))
    losses = mean_embedding_distance(real_means, synthetic_means)
    assert torch.allclose(losses, torch.tensor([2.0 ** 2 + 3.0 ** 2, 0.5 ** 2 + 0.5 ** 2]))


def test_class_means_reshape_and_ragged_paths_agree():
    x = torch.randn(12, 5, generator=torch.Generator().manual_seed(1))
    equal = class_means(x, [4, 4, 4])
    assert torch.allclose(equal, torch.stack([x[:4].mean(0), x[4:8].mean(0), x[8:].mean(0)]))
    ragged = class_means(x, [2, 7, 3])
    assert torch.allclose(ragged[1], x[2:9].mean(0))


def test_dm_gradient_matches_finite_differences():
    torch.manual_seed(0)  # gradcheck's perturbations only; the model comes from an explicit generator
    g = torch.Generator().manual_seed(3)
    net = get_model("convnet", 1, 2, 8, generator=g, width=3, depth=1).double().requires_grad_(False)
    real = torch.randn(6, 1, 8, 8, generator=g, dtype=torch.float64)
    dsa = DSA("color_scale_rotate", mode="M")
    params = dsa.sample(2, torch.Generator().manual_seed(4), image_size=8)
    real_groups, synthetic_groups = torch.tensor([0, 0, 0, 1, 1, 1]), torch.tensor([0, 0, 1, 1])
    real_means = class_means(net.embed(dsa.apply(real, params, real_groups)), [3, 3])

    def loss(synthetic):
        synthetic_means = class_means(net.embed(dsa.apply(synthetic, params, synthetic_groups)), [2, 2])
        return mean_embedding_distance(real_means, synthetic_means).sum()

    synthetic = torch.randn(4, 1, 8, 8, generator=g, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(loss, (synthetic,), eps=1e-6, atol=1e-5)


# ------------------------------------------------------------------------------------- sampling
def test_sampler_draws_distinct_images_of_each_class_class_sorted():
    labels = torch.tensor([2, 0, 1, 0, 2, 2, 1, 0, 0, 2])
    sampler = ClassBalancedSampler(labels, 3)
    index, counts = sampler.sample(3, torch.Generator().manual_seed(0))
    assert counts == [3, 2, 3]  # class 1 has only two images
    assert labels[index].tolist() == [0, 0, 0, 1, 1, 2, 2, 2]
    assert len(set(index.tolist())) == len(index)
    again, _ = sampler.sample(3, torch.Generator().manual_seed(0))
    assert torch.equal(index, again)
    seen = {tuple(sorted(sampler.sample(2, torch.Generator().manual_seed(s))[0][:2].tolist())) for s in range(30)}
    assert len(seen) > 1  # different seeds draw different images


def test_siamese_rule_one_draw_per_class_shared_by_real_and_synthetic(digits):
    """Zero images under DSA's colour family become constant images equal to their group's brightness
    shift: real and synthetic images of a class agree, different classes differ."""
    dm = DM(digits, DMConfig(ipc=2, dsa_strategy="color", **SMALL))
    params = dm.augment.sample(10, torch.Generator().manual_seed(0), image_size=16)
    real = dm._augment(torch.zeros(30, 1, 16, 16), params, [3] * 10, list(range(10)))
    synthetic = dm._augment(torch.zeros(20, 1, 16, 16), params, [2] * 10, list(range(10)))
    real_value = real.mean(dim=(1, 2, 3)).view(10, 3)
    synthetic_value = synthetic.mean(dim=(1, 2, 3)).view(10, 2)
    assert torch.allclose(real_value, real_value[:, :1].expand(10, 3))
    assert torch.allclose(synthetic_value, real_value[:, :2])
    assert len(set(real_value[:, 0].tolist())) == 10


# ------------------------------------------------------------------------------------- image updates
def test_closed_form_per_class_steps_equal_sequential_sgd():
    """C steps of torch.optim.SGD (class c's gradient at step c) equal lookahead + one composed update."""
    g = torch.Generator().manual_seed(0)
    classes, per, lr, mu = 4, 3, 0.3, 0.5
    row_class = torch.arange(classes).repeat_interleave(per)
    targets = torch.randn(classes * per, 5, generator=g)
    start = torch.randn(classes * per, 5, generator=g)
    velocity0 = torch.randn(classes * per, 5, generator=g)

    x = start.clone().requires_grad_(True)
    sgd = torch.optim.SGD([x], lr=lr, momentum=mu)
    x.grad = velocity0.clone()  # one step with grad = v0 from x0 + lr·v0 seeds the buffer at v0
    with torch.no_grad():
        x += lr * velocity0
    sgd.step()
    for _ in range(2):  # two iterations of per-class steps
        for c in range(classes):
            sgd.zero_grad()
            ((x[row_class == c] - targets[row_class == c]) ** 2).sum().backward()
            sgd.step()

    images, velocity = start.clone(), velocity0.clone()
    for _ in range(2):
        point = per_class_lookahead(images, velocity, row_class, classes, lr, mu)
        grad = 2 * (point - targets)
        apply_per_class_steps(images, velocity, grad, row_class, classes, lr, mu)
    assert torch.allclose(images, x.detach(), atol=1e-5)
    assert torch.allclose(velocity, sgd.state[x]["momentum_buffer"], atol=1e-5)


def test_momentum_step_is_torch_sgd():
    x0, grads = torch.randn(5), [torch.randn(5) for _ in range(3)]
    x = x0.clone().requires_grad_(True)
    sgd = torch.optim.SGD([x], lr=0.7, momentum=0.5)
    mine, velocity = x0.clone(), torch.zeros(5)
    for grad in grads:
        x.grad = grad.clone()
        sgd.step()
        momentum_step(mine, velocity, grad, 0.7, 0.5)
    assert torch.allclose(mine, x.detach())


@pytest.mark.parametrize("method, settings", [
    ("dm", {**SMALL}),
    ("dm", {**SMALL, "step_per_class": True}),
    ("idm", {**IDM_SMALL}),
    ("idm", {**IDM_SMALL, "step_per_class": False}),
    ("dsdm", {**DSDM_SMALL}),
])
def test_batched_and_per_class_paths_give_the_same_images(digits, method, settings):
    runs = {path: make_distiller(method, digits, seed=1, ipc=2, forward=path, **settings).run(3, progress=False)
            for path in ("batched", "per_class")}
    assert torch.allclose(runs["batched"].images, runs["per_class"].images, atol=1e-5)
    assert not torch.allclose(runs["batched"].images, make_distiller(method, digits, seed=1, ipc=2, **settings)
                              .run(0, progress=False).images)  # and the images did move


# ------------------------------------------------------------------------------------- DM
def test_dm_step_lowers_the_loss_under_a_fixed_network(digits):
    """The update is a descent step: re-evaluated under the same network and draws, the loss drops."""
    dm = DM(digits, DMConfig(ipc=3, lr_img=0.1, momentum=0.0, **SMALL), seed=0)
    dm.init()
    net = dm.fresh_network()
    index, counts = dm.sampler.sample(16, torch.Generator().manual_seed(0))
    params = dm.augment.sample(10, torch.Generator().manual_seed(1), image_size=16)
    real, classes = digits.train.images[index], list(range(10))

    def loss_at(images):
        point = images.clone().requires_grad_(True)
        value = dm._losses_at(net, point, real, counts, params, classes).sum()
        return value, torch.autograd.grad(value, point)[0]

    before, grad = loss_at(dm.images)
    after, _ = loss_at(dm.images - 0.1 * grad)
    assert after < before


def test_dm_noise_init_and_real_init(digits):
    real = DM(digits, DMConfig(ipc=2, **SMALL)).init()
    assert any(torch.equal(real.images[0], row) for row in digits.train.images[digits.train.labels == 0])
    noise = DM(digits, DMConfig(ipc=2, init="noise", **SMALL)).init()
    assert abs(float(noise.images.std()) - 1.0) < 0.2
    assert noise.labels.tolist() == [c for c in range(10) for _ in range(2)]


# ------------------------------------------------------------------------------------- partitions
def test_partition_and_expansion_round_trip_shapes_and_order():
    quadrants = torch.stack([torch.full((1, 8, 8), float(v)) for v in range(8)])  # 2 images' worth of parts
    tiled = tile_partitions(quadrants, 2)
    assert tiled.shape == (2, 1, 8, 8)
    # column-major: parts 0, 1, 2, 3 go top-left, bottom-left, top-right, bottom-right
    assert tiled[0, 0, 0, 0] == 0 and tiled[0, 0, 7, 0] == 1 and tiled[0, 0, 0, 7] == 2 and tiled[0, 0, 7, 7] == 3
    expanded = expand_partitions(tiled, 2)
    assert expanded.shape == (8, 1, 8, 8)
    assert torch.allclose(expanded, quadrants)  # constant parts survive shrinking and upsampling exactly
    labels = torch.tensor([0, 1])
    s = SyntheticSet(tiled, labels, 2, factor=2)
    images, expanded_labels = s.training_pairs()
    assert images.shape == (8, 1, 8, 8) and expanded_labels.tolist() == [0, 0, 0, 0, 1, 1, 1, 1]


def test_partition_factor_is_checked():
    with pytest.raises(ValueError, match="factor"):
        SyntheticSet(torch.zeros(2, 1, 9, 9), torch.tensor([0, 1]), 2, factor=2)
    with pytest.raises(ValueError, match="factor"):
        expand_partitions(torch.zeros(2, 1, 8, 8), 0)
    with pytest.raises(ValueError, match="images"):
        tile_partitions(torch.zeros(3, 1, 8, 8), 2)


def test_partitioned_set_survives_save_and_load(tmp_path):
    s = SyntheticSet(torch.randn(2, 1, 8, 8), torch.tensor([0, 1]), 2, factor=2)
    loaded = SyntheticSet.load(s.save(tmp_path / "s.pt"))
    assert loaded.factor == 2 and torch.equal(loaded.images, s.images)


# ------------------------------------------------------------------------------------- IDM
def test_idm_initialises_each_image_from_four_different_real_images(digits):
    idm = IDM(digits, IDMConfig(ipc=2, **IDM_SMALL))
    synthetic = idm.init()
    assert synthetic.factor == 2 and synthetic.images.shape == (20, 1, 16, 16)
    parts = expand_partitions(synthetic.images[:1], 2)
    assert not any(torch.allclose(parts[i], parts[j]) for i in range(4) for j in range(i + 1, 4))


def test_idm_queue_keeps_its_size_bound_and_trains_its_networks(digits):
    idm = IDM(digits, IDMConfig(ipc=1, **{**IDM_SMALL, "push_interval": 1}), seed=0)
    idm.init()
    first = idm.queue.nets[0]
    initial = {id(net): [p.detach().clone() for p in net.parameters()] for net in idm.queue.nets}
    push = idm.queue.push

    def recording_push(net, optimizer):
        initial[id(net)] = [p.detach().clone() for p in net.parameters()]
        push(net, optimizer)

    idm.queue.push = recording_push
    sizes = []
    for _ in range(6):
        idm.step()
        idm.iteration += 1
        sizes.append(len(idm.queue))
    assert max(sizes) == 3 and sizes[-1] == 3
    assert first not in idm.queue.nets  # FIFO: the oldest network has left
    trained = [k for k in range(len(idm.queue)) if idm.queue.seen[k] > 0]
    assert trained, "no queue network was trained"
    for k in range(len(idm.queue)):
        moved = any(not torch.equal(a, b) for a, b in zip(initial[id(idm.queue.nets[k])],
                                                          idm.queue.nets[k].parameters()))
        assert moved == (k in trained)  # trained networks changed, the others did not
    assert all(0 <= float(idm.queue.accuracy_percent(k)) <= 100 for k in range(len(idm.queue)))


def test_idm_untrained_network_gives_the_regulariser_zero_weight(digits):
    from ltdd.distill.idm import ModelQueue

    queue = ModelQueue(2)
    net = get_model("convnet", 1, 10, 16, generator=torch.Generator().manual_seed(0), width=4)
    queue.push(net, torch.optim.SGD(net.parameters(), lr=0.1))
    assert float(queue.accuracy_percent(0)) == 0.0
    queue.correct[0] += 3
    queue.seen[0] += 4
    assert float(queue.accuracy_percent(0)) == 75.0


def test_idm_command_settings_are_the_lines_of_command_txt():
    # typed from uitrbn/IDM command.txt (commit 9acccfd): --ce_weight, --batch_real, --net_generate_interval,
    # --model_train_steps, --eval_interval of each line (fields at IDMConfig's defaults are left out)
    typed = {
        ("cifar10", 1): {"ce_weight": 0.5, "batch_real": 5000, "push_interval": 5},
        ("cifar10", 10): {"ce_weight": 0.5},
        ("cifar10", 50): {"ce_weight": 0.1, "meter_reset_interval": 500},
        ("cifar100", 1): {"ce_weight": 0.5, "batch_real": 5000, "push_interval": 5},
        ("cifar100", 10): {"ce_weight": 0.1, "net_train_steps": 50},
        ("cifar100", 50): {"ce_weight": 0.1, "meter_reset_interval": 500},
        ("tinyimagenet", 1): {"ce_weight": 0.5},
        ("tinyimagenet", 10): {"ce_weight": 0.5, "meter_reset_interval": 500},
        ("tinyimagenet", 50): {"ce_weight": 0.8, "meter_reset_interval": 1000, "net_train_steps": 50},
    }
    for (name, ipc), settings in typed.items():
        assert command_settings(name, ipc) == settings, (name, ipc)
    assert command_settings("cifar100-lt", 1) == typed[("cifar100", 1)]
    # the lines share these, which are IDMConfig's defaults
    config = IDMConfig()
    assert (config.lr_img, config.queue_size, config.push_interval, config.net_train_steps, config.batch_real,
            config.meter_reset_interval) == (0.2, 100, 30, 10, 256, 100)
    with pytest.raises(ValueError, match="ipc"):
        command_settings("cifar10", 20)


def test_idm_trains_distinct_queue_networks(digits):
    idm = IDM(digits, IDMConfig(ipc=1, **{**IDM_SMALL, "queue_size": 5, "initial_nets": 5, "train_nets": 4,
                                          "net_train_steps": 1}), seed=3)
    idm.init()
    for _ in range(5):  # every draw must pick 4 different networks of 5: each is seen once per draw
        for k in range(len(idm.queue)):
            idm.queue.seen[k].zero_()
        idm.train_queue()
        assert sorted(int(s > 0) for s in idm.queue.seen) == [0, 1, 1, 1, 1]
        assert {int(s) for s in idm.queue.seen if s > 0} == {IDM_SMALL["net_batch"]}
    idm_all = IDM(digits, IDMConfig(ipc=1, **{**IDM_SMALL, "initial_nets": 2, "train_nets": 4}), seed=0)
    idm_all.init()
    idm_all.train_queue()  # more networks asked for than the queue holds: each trains once
    assert [int(s) for s in idm_all.queue.seen] == [IDM_SMALL["net_batch"] * IDM_SMALL["net_train_steps"]] * 2


# ------------------------------------------------------------------------------------- DSDM
def test_covariance_loss_is_zero_for_identical_sets_and_gram_form_is_exact():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(5, 40, generator=g, dtype=torch.float64), torch.randn(7, 40, generator=g, dtype=torch.float64)
    assert float(covariance_distance(a, a.clone())) == pytest.approx(0.0, abs=1e-12)
    explicit = (covariance(a) - covariance(b)).pow(2).sum()
    assert float(covariance_distance(a, b)) == pytest.approx(float(explicit), rel=1e-10)  # Gram form (12 < 40)
    assert torch.allclose(covariance(a), torch.cov(a.T))


def test_covariance_of_a_single_sample_is_guarded():
    one, many = torch.randn(1, 6), torch.randn(4, 6)
    value = covariance_distance(one, many)
    assert torch.isfinite(value) and float(value) == pytest.approx(float(covariance(many).pow(2).sum()), rel=1e-5)


def test_dsdm_keeps_pixels_in_range_scales_lr_and_reuses_pretrained_networks(digits):
    dsdm = DSDM(digits, DSDMConfig(ipc=2, **DSDM_SMALL), seed=0)
    assert dsdm.image_lr == pytest.approx(0.1 * 2 / 10)
    synthetic = dsdm.run(3, progress=False)
    pixels = digits.denormalize(synthetic.images)
    assert float(pixels.min()) >= -1e-6 and float(pixels.max()) <= 1 + 1e-6
    assert dsdm.history is not None and dsdm.history.shape[0] == 10
    other = DSDM(digits, DSDMConfig(ipc=1, **DSDM_SMALL), seed=0)
    other.init()
    assert other.networks[0] is dsdm.networks[0]  # same data and settings: pre-trained once, kept in memory
    assert not any(p.requires_grad for p in other.networks[0].parameters())


def test_dsdm_history_term_switches_on_after_the_warm_up(digits):
    dsdm = DSDM(digits, DSDMConfig(ipc=1, **{**DSDM_SMALL, "history_warmup": 2, "cov_weight": 0.0}), seed=0)
    dsdm.init()
    features = torch.randn(20, 8)
    dsdm.history = torch.ones(10, 8)
    args = (dsdm.networks[0], features, [2] * 10, features, [2] * 10, list(range(10)))
    dsdm.iteration = 2
    off = dsdm.class_losses(*args)
    dsdm.iteration = 3
    on = dsdm.class_losses(*args)
    assert torch.allclose(off, torch.zeros(10)) and bool((on > 0).all())


def test_dsdm_pretraining_is_pre_train_model_py():
    from ltdd.distill.dsdm import pretrain_config

    # typed from Li-Hongcheng/DSDM pre_train_model.py with --reproduce (argument.py / misc/reproduce.py):
    # pretrained_epochs 20, SGD lr 0.01 momentum 0.9 wd 5e-4, batch 256, no scheduler, DiffAug('color_crop',
    # batch=False) (cutout removed for mixup_net='cut'), CutMix p 0.5
    config = pretrain_config()
    assert (config.epochs, config.passes, config.decay_after_pass) == (20, 20, None)
    assert (config.lr, config.momentum, config.weight_decay, config.batch_size) == (0.01, 0.9, 5e-4, 256)
    assert (config.dsa_strategy, config.dsa_mode, config.cutmix_prob) == ("color_crop", "M", 0.5)


def test_constant_schedule_trains_exactly_its_epochs_at_one_learning_rate(monkeypatch):
    from ltdd.train import TrainConfig, train_classifier

    made = []
    sgd = torch.optim.SGD

    def recording_sgd(params, lr, **kwargs):
        made.append(lr)
        return sgd(params, lr=lr, **kwargs)

    monkeypatch.setattr(torch.optim, "SGD", recording_sgd)
    images, labels = torch.randn(8, 1, 8, 8), torch.arange(8) % 2
    net = get_model("convnet", 1, 2, 8, generator=torch.Generator().manual_seed(0), width=4, depth=1)
    losses = train_classifier(net, images, labels, TrainConfig(epochs=3, schedule="constant", dsa_mode="M",
                                                               dsa_strategy="color_crop"), torch.Generator())
    assert len(losses) == 3 and made == [0.01]
    made.clear()
    losses = train_classifier(net, images, labels, TrainConfig(epochs=3), torch.Generator())
    assert len(losses) == 4 and made == [0.01, pytest.approx(0.001)]  # the reference: E+1 passes, ×0.1 after 2
    with pytest.raises(ValueError, match="schedule"):
        TrainConfig(schedule="cosine")
    with pytest.raises(ValueError, match="dsa_mode"):
        TrainConfig(dsa_mode="X")


def test_dsa_mode_m_applies_colour_and_crop_to_every_image():
    x = torch.ones(64, 3, 8, 8)
    g = torch.Generator().manual_seed(0)
    both = DSA("color_crop", mode="M")(x, g)
    one = DSA("color_crop", mode="S")(x, torch.Generator().manual_seed(0))
    shifted = lambda out: (out == 0).flatten(1).any(1)  # a crop shifts zeros in from the border
    assert bool(shifted(both).float().mean() > 0.5)  # ±1 px per axis at 8 px: most images move
    assert not bool((both == 1).flatten(1).all(1).any())  # and every image's colour changed
    assert bool(shifted(one).all()) or not bool(shifted(one).any())  # mode S: one family for the whole batch


def test_dsdm_paper_form_follows_eqs_5_6_8_and_a_fixed_learning_rate(digits):
    code = DSDM(digits, DSDMConfig(ipc=2, **DSDM_SMALL), seed=0)
    paper = DSDM(digits, DSDMConfig(ipc=2, form="paper", **DSDM_SMALL), seed=0)
    assert code.image_lr == pytest.approx(0.02) and paper.image_lr == pytest.approx(0.1)  # η = 0.1 at every IPC
    g = torch.Generator().manual_seed(2)
    a, b = torch.randn(4, 6, generator=g, dtype=torch.float64), torch.randn(5, 6, generator=g, dtype=torch.float64)
    by_n = (torch.cov(a.T, correction=0) - torch.cov(b.T, correction=0)).pow(2).sum()
    assert float(covariance_distance(a, b, unbiased=False)) == pytest.approx(float(by_n), rel=1e-10)  # Eq. 5: /|B|
    for dsdm in (code, paper):
        dsdm.init()
        dsdm.iteration = 5
        dsdm.history = torch.zeros(10, 8)
    features = torch.randn(20, 8, generator=torch.Generator().manual_seed(1))
    args = (code.networks[0], features, [2] * 10, features, [2] * 10, list(range(10)))
    history_code = code.class_losses(*args)  # identical real and synthetic: only the history term is left
    history_paper = paper.class_losses(*args)
    assert torch.allclose(history_paper, history_code * features.shape[1])  # Eq. 6 has no 1/d
    paper.history = None
    paper.update_history(paper.networks[0])
    assert float(paper.history.abs().sum()) == 0.0  # Eq. 8: h = 0 after the first iteration
    code.history = None
    code.update_history(code.networks[0])
    assert float(code.history.abs().sum()) > 0  # the code starts h at the first prototypes
    with pytest.raises(ValueError, match="form"):
        make_distiller("dsdm", digits, ipc=2, form="book")


def test_dsdm_paper_iterations_and_warm_up_are_the_papers():
    from ltdd.distill.dsdm import PAPER_ITERATIONS

    # DSDM paper, Sec. 5 "Implementation Details": T = 10K; code: niter 10000, smooth_iter 2000, cov_weight 50,
    # h_p_weight 0.2, smooth_factor 0.99, 10 pre-trained models of 20 epochs
    config = DSDMConfig()
    assert PAPER_ITERATIONS == 10_000 and config.history_warmup == 2000
    assert (config.cov_weight, config.history_weight, config.history_ema) == (50.0, 0.2, 0.99)
    assert (config.num_pretrained, config.pretrain_epochs, config.factor) == (10, 20, 2)


# ------------------------------------------------------------------------------------- resume and errors
@pytest.mark.parametrize("method, settings", [("dm", SMALL), ("idm", IDM_SMALL), ("dsdm", DSDM_SMALL)])
def test_resume_equals_uninterrupted(digits, tmp_path, method, settings):
    straight = make_distiller(method, digits, seed=5, ipc=2, **settings).run(4, progress=False)
    first = make_distiller(method, digits, seed=5, ipc=2, **settings)
    first.run(2, progress=False)
    atomic_save(first.state_dict(), tmp_path / "checkpoint.pt")
    second = make_distiller(method, digits, seed=5, ipc=2, **settings)
    second.load_state_dict(torch.load(tmp_path / "checkpoint.pt", weights_only=True))
    resumed = second.run(2, progress=False)
    assert second.iteration == 4
    assert torch.equal(resumed.images, straight.images)


def test_resume_with_other_settings_is_refused(digits):
    saved = make_distiller("dm", digits, seed=0, ipc=2, **SMALL)
    saved.run(1, progress=False)
    other = make_distiller("dm", digits, seed=0, ipc=3, **SMALL)
    with pytest.raises(ValueError, match="ipc"):
        other.load_state_dict(saved.state_dict())
    with pytest.raises(ValueError, match="method"):
        make_distiller("idm", digits, seed=0, ipc=2, **IDM_SMALL).load_state_dict(saved.state_dict())


def test_a_checkpoint_older_than_a_setting_resumes_at_its_default_and_not_at_another(digits):
    saved = make_distiller("dm", digits, seed=0, ipc=2, **SMALL)
    saved.run(1, progress=False)
    state = saved.state_dict()
    del state["settings"]["compile_embedding"]  # as written before the setting existed
    resumed = make_distiller("dm", digits, seed=0, ipc=2, **SMALL)
    resumed.load_state_dict(state)
    assert resumed.iteration == 1
    with pytest.raises(ValueError, match="compile_embedding"):
        make_distiller("dm", digits, seed=0, ipc=2, compile_embedding=True, **SMALL).load_state_dict(state)


@pytest.mark.skipif(shutil.which("cc") is None and shutil.which("gcc") is None,
                    reason="torch.compile on the CPU needs a C++ compiler")
@pytest.mark.parametrize("method, settings", [("dm", SMALL), ("dsdm", DSDM_SMALL)])
def test_compiled_embedding_gives_the_same_images_up_to_rounding(digits, method, settings):
    plain = make_distiller(method, digits, seed=3, ipc=2, **settings).run(3, progress=False)
    compiled = make_distiller(method, digits, seed=3, ipc=2, compile_embedding=True, **settings)
    torch.testing.assert_close(compiled.run(3, progress=False).images, plain.images, rtol=1e-4, atol=1e-4)
    assert compiled.describe()["compile_embedding"] is True
    from torch._dynamo.utils import counters

    assert counters["stats"]["unique_graphs"] > 0  # the embedding did go through torch.compile


@pytest.mark.parametrize("settings, word", [
    ({"ipc": 0}, "ipc"),
    ({"ipc": 2, "forward": "sideways"}, "forward"),
    ({"ipc": 2, "momentum": 1.0}, "momentum"),
    ({"ipc": 2, "lr_img": 0.0}, "lr_img"),
    ({"ipc": 2, "init": "zeros"}, "init"),
    ({"ipc": 2, "batch_real": 0}, "batch_real"),
])
def test_dm_bad_settings_name_the_argument(digits, settings, word):
    with pytest.raises(ValueError, match=word):
        make_distiller("dm", digits, **settings)


def test_ipc_larger_than_the_smallest_class_is_an_error():
    tiny = tiny_dataset()
    with pytest.raises(ValueError, match="ipc=2"):
        make_distiller("dm", tiny, ipc=2)
    make_distiller("dm", tiny, ipc=2, init="noise")  # noise needs no real images
    with pytest.raises(ValueError, match="needs 4 real images"):
        make_distiller("idm", load_dataset("digits-lt", device="cpu", imbalance=100.0), ipc=1)


def test_other_bad_input(digits):
    with pytest.raises(ValueError, match="method"):
        make_distiller("mmd", digits)
    with pytest.raises(ValueError, match="does not accept"):
        make_distiller("dm", digits, ipc=2, queue_size=3)
    with pytest.raises(ValueError, match="queue"):
        make_distiller("idm", digits, ipc=2, queue=False, ce=True)
    with pytest.raises(ValueError, match="history_ema"):
        make_distiller("dsdm", digits, ipc=2, history_ema=1.5)
    with pytest.raises(ValueError, match="iterations"):
        make_distiller("dm", digits, ipc=2, **SMALL).run(-1)


def test_profile_fills_machine_settings(digits):
    from ltdd.config import get_profile

    dm = make_distiller("dm", digits, profile=get_profile("smoke"), ipc=2)
    assert dm.config.batch_real == 32 and dm.config.net_width == 32
    dm = make_distiller("dm", digits, profile=get_profile("smoke"), ipc=2, batch_real=8)
    assert dm.config.batch_real == 8


# ------------------------------------------------------------------------------------- it works
def test_dm_beats_random_selection_on_digits(digits):
    """The property that matters: at IPC 1, DM's images train better networks than random real images."""
    from ltdd.train import TrainConfig, evaluate_synthetic

    protocol, options = TrainConfig(epochs=60), {"width": 16}
    dm = make_distiller("dm", digits, seed=0, ipc=1, batch_real=64, net_width=16).run(150, progress=False)
    dm_report = evaluate_synthetic(dm, digits, seeds=3, config=protocol, progress=False, model_options=options)
    random_means = []
    for seed in range(3):
        chosen = make_distiller("random", digits, seed=seed, ipc=1).run(0, progress=False)
        random_means.append(evaluate_synthetic(chosen, digits, seeds=3, config=protocol, progress=False,
                                               model_options=options).mean)
    assert dm_report.mean > sum(random_means) / 3 + 0.03, (dm_report.mean, random_means)
    assert math.isfinite(dm_report.std)
