"""The unrolled student of trajectory matching: the exact constant-memory gradient equals backpropagation through
every step; TESLA's approximation does not; memory of the exact mode does not grow with the steps."""

from __future__ import annotations

import pytest
import torch

from ltdd.augment import DSA
from ltdd.config import make_generator
from ltdd.distill.unroll import FlatParameters, plan_steps, saved_memory, soft_label_loss, unrolled_matching
from ltdd.models import get_model

pytestmark = pytest.mark.usefixtures("one_thread")


def problem(soft: bool = True, dtype=torch.float64):
    model = get_model("convnet", 1, 4, 8, generator=make_generator(0, "student"), width=6, depth=2).to(dtype)
    flat = FlatParameters(model)
    g = torch.Generator().manual_seed(0)
    start = flat.flatten().detach().clone()
    target = start + 0.05 * torch.randn(flat.size, generator=g, dtype=dtype)
    images = torch.randn(12, 1, 8, 8, generator=g, dtype=dtype)
    labels = torch.randn(12, 4, generator=g, dtype=dtype) if soft else torch.arange(4).repeat_interleave(3)
    return model, start, target, images, labels, torch.tensor(0.05, dtype=dtype)


def run(mode: str, soft: bool = True, augment: DSA | None = DSA("crop_scale_rotate"), steps: int = 5):
    model, start, target, images, labels, lr = problem(soft)
    return unrolled_matching(model, start, target, images, labels, lr, steps, make_generator(1, "unroll"),
                             batch_size=5, augment=augment, mode=mode)


def relative(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / a.norm())


@pytest.mark.parametrize("soft", [True, False])
@pytest.mark.parametrize("augment", [None, DSA("crop_scale_rotate")])
def test_exact_mode_equals_backpropagation_through_every_step(soft, augment):
    reference, exact = run("bptt", soft, augment), run("exact", soft, augment)
    assert exact.loss.item() == pytest.approx(reference.loss.item(), rel=1e-12)
    assert relative(reference.images_grad, exact.images_grad) < 1e-10
    assert relative(reference.lr_grad, exact.lr_grad) < 1e-10
    assert torch.allclose(reference.final_params, exact.final_params, rtol=0, atol=1e-12)
    if soft:
        assert relative(reference.labels_grad, exact.labels_grad) < 1e-10
    else:
        assert exact.labels_grad is None and reference.labels_grad is None


def test_bptt_gradient_matches_finite_differences_in_the_step_size():
    eps = 1e-6
    model, start, target, images, labels, lr = problem()

    def loss_at(alpha: float) -> float:
        return unrolled_matching(model, start, target, images, labels, torch.tensor(alpha, dtype=torch.float64), 3,
                                 make_generator(1, "unroll"), batch_size=5, mode="bptt").loss.item()

    analytic = unrolled_matching(model, start, target, images, labels, lr, 3, make_generator(1, "unroll"),
                                 batch_size=5, mode="bptt").lr_grad.item()
    numeric = (loss_at(0.05 + eps) - loss_at(0.05 - eps)) / (2 * eps)
    assert analytic == pytest.approx(numeric, rel=1e-6)


def test_tesla_drops_the_hessian_term_and_differs():
    reference, tesla = run("bptt"), run("tesla")
    # same forward pass: same loss and final student
    assert tesla.loss.item() == pytest.approx(reference.loss.item(), rel=1e-12)
    # on this problem (5 steps, step size 0.05) the truncation changes the gradients by roughly 10-35 %
    for name in ("images_grad", "labels_grad", "lr_grad"):
        assert 0.01 < relative(getattr(reference, name), getattr(tesla, name)) < 1.0
    # with a single step there is no earlier step to truncate: TESLA is exact
    one_bptt, one_tesla = run("bptt", steps=1), run("tesla", steps=1)
    assert relative(one_bptt.images_grad, one_tesla.images_grad) < 1e-10


def test_step_plan_cycles_permutations_and_replays():
    plans = plan_steps(10, 4, 4, make_generator(0, "p"), None, 8, "cpu")
    first_pass = torch.cat([p.index for p in plans[:2]])
    assert len(set(first_pass.tolist())) == 8  # chunks of one permutation, no repeat within it
    again = plan_steps(10, 4, 4, make_generator(0, "p"), None, 8, "cpu")
    assert all(torch.equal(a.index, b.index) for a, b in zip(plans, again))


def test_bad_input_is_refused():
    model, start, target, images, labels, lr = problem()
    with pytest.raises(ValueError, match="mode='adjoint' is unknown"):
        unrolled_matching(model, start, target, images, labels, lr, 2, make_generator(0), mode="adjoint")
    with pytest.raises(ValueError, match="steps must be a positive int"):
        unrolled_matching(model, start, target, images, labels, lr, 0, make_generator(0))
    with pytest.raises(ValueError, match=r"batch_size must be an int in \[1, 12\]"):
        unrolled_matching(model, start, target, images, labels, lr, 2, make_generator(0), batch_size=13)
    with pytest.raises(ValueError, match="flat parameters must be a vector of"):
        unrolled_matching(model, start[:-1], target, images, labels, lr, 2, make_generator(0))


def test_soft_label_loss_is_cross_entropy_for_one_hot_logits():
    logits = torch.randn(6, 3, generator=torch.Generator().manual_seed(0))
    hard = torch.tensor([0, 1, 2, 2, 1, 0])
    sharp = 50.0 * torch.nn.functional.one_hot(hard, 3).double()
    assert soft_label_loss(logits.double(), sharp).item() == pytest.approx(
        torch.nn.functional.cross_entropy(logits, hard).item(), rel=1e-6)


def saved_peak(mode: str, steps: int) -> int:
    return saved_memory(mode, steps, ipc=2, image_size=16, width=8)


def test_exact_mode_memory_does_not_grow_with_the_steps():
    """What autograd keeps alive: one step's graph in the exact and TESLA modes, every step's in bptt. (The
    process-level peaks, CPU and GPU, are measured by benchmarks/tm_memory.py.)"""
    exact5, exact40 = saved_peak("exact", 5), saved_peak("exact", 40)
    assert exact40 <= 1.2 * exact5, (exact5, exact40)
    assert saved_peak("tesla", 40) <= 1.2 * saved_peak("tesla", 5)
    bptt5, bptt20 = saved_peak("bptt", 5), saved_peak("bptt", 20)
    assert bptt20 > 3.5 * bptt5, (bptt5, bptt20)  # the reference's graph grows with every step
    assert bptt5 > exact5


def blocks(model):
    from ltdd.distill.experts import classifier_slice

    classifier = classifier_slice(model)
    return slice(0, classifier.start), classifier


@pytest.mark.parametrize("phase", ["representation", "classifier"])
def test_restricted_unroll_is_exact_and_moves_only_its_block(phase):
    """Expert Decoupling's two phases: the representation phase updates everything but matches the backbone;
    the classifier phase updates and matches only the final linear layer. Exact == bptt in both."""
    model, start, target, images, labels, lr = problem()
    backbone, classifier = blocks(model)
    update, match = (None, backbone) if phase == "representation" else (classifier, classifier)
    results = {mode: unrolled_matching(model, start, target, images, labels, lr, 4, make_generator(1, "unroll"),
                                       batch_size=5, mode=mode, update=update, match=match)
               for mode in ("bptt", "exact")}
    reference, exact = results["bptt"], results["exact"]
    assert exact.loss.item() == pytest.approx(reference.loss.item(), rel=1e-12)
    for name in ("images_grad", "lr_grad", "labels_grad"):
        assert relative(getattr(reference, name), getattr(exact, name)) < 1e-10
    moved = exact.final_params != start
    if phase == "classifier":
        assert not moved[backbone].any() and moved[classifier].any()
        assert exact.param_distance.item() == pytest.approx((start - target)[classifier].pow(2).sum().item())
    else:
        assert moved[backbone].any() and moved[classifier].any()
        expected = (exact.final_params - target)[backbone].pow(2).sum() / (start - target)[backbone].pow(2).sum()
        assert exact.loss.item() == pytest.approx(expected.item(), rel=1e-12)


def test_restricted_blocks_are_checked():
    model, start, target, images, labels, lr = problem()
    with pytest.raises(ValueError, match="update must be a contiguous slice"):
        unrolled_matching(model, start, target, images, labels, lr, 2, make_generator(1), update=[0, 1])
    with pytest.raises(ValueError, match="match=slice.*selects no parameters"):
        unrolled_matching(model, start, target, images, labels, lr, 2, make_generator(1), match=slice(5, 5))
    with pytest.raises(ValueError, match="zero distance"):
        unrolled_matching(model, start, start.clone(), images, labels, lr, 2, make_generator(1))
