"""The unrolled student of trajectory matching (MTT, Cazenavette et al. 2022) and three ways to differentiate it.

A *student* network starts from an expert's weights θ*_t, takes N plain SGD steps on the synthetic set,

    θ_{i+1} = θ_i − α ∇_θ ℓ(f(θ_i; A_i(X_{b_i})), Y_{b_i}),        i = 0 … N−1,

(``b_i`` a minibatch, ``A_i`` a DSA draw, α a learnable step size) and is compared with the expert M epochs
later (MTT Eq. 2):

    L = ‖θ_N − θ*_{t+M}‖² / ‖θ*_t − θ*_{t+M}‖².

The synthetic images X, the label logits Y (soft labels, DATM) and α are learned through L, which needs the
derivative through all N steps. :func:`unrolled_matching` offers three gradient modes:

* ``"bptt"`` — the reference: keep every step's double-backward graph and backpropagate once. Exact; memory
  grows linearly with N.
* ``"exact"`` — the same gradient without the growing graphs (the *adjoint* of the unrolled SGD map). Only
  θ_0 … θ_{N−1} (detached: one parameter vector per step, 1.28 MB for CIFAR-10's ConvNet-3, against hundreds of
  MB of graph per step in ``bptt``), the minibatch indices and the DSA draws are kept. Going backwards,
  with ``a_N = ∂L/∂θ_N``, each step recomputes g_i at θ_i with a graph and takes one vector-Jacobian product
  of θ_{i+1} = θ_i − α g_i:

      ∂L/∂X += −α (∂g_i/∂X)ᵀ a_{i+1},   ∂L/∂α += −⟨g_i, a_{i+1}⟩,   a_i = a_{i+1} − α H_i a_{i+1},

  so one step's graph is alive at a time. It costs one more forward-and-backward per step than ``bptt``.
* ``"tesla"`` — the approximation of TESLA (Cui et al. 2023) as the LTDD code uses it: the same backward
  loop with the Hessian term dropped (``a_i ≡ a_N``), i.e. θ_i's dependence on earlier images ignored.
  Constant memory, not exact.

The student is functional (:func:`torch.func.functional_call` over views of one flat parameter vector), so no
module is mutated and the same network object serves every step.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call

from ..augment import DSA
from ..checks import positive_int
from .experts import load_flat_parameters, split_flat_parameters

GRAD_MODES = ("bptt", "exact", "tesla")


# --------------------------------------------------------------------------------- flat parameters
class FlatParameters:
    """Maps one flat vector to ``model``'s named parameters and back, in the layout of
    :func:`ltdd.distill.experts.flat_parameters` (``model.parameters()`` order, as experts are stored).

    Introduced in chapter 10."""

    def __init__(self, model: nn.Module):
        self.model = model
        self.names = [name for name, _ in model.named_parameters()]
        self.sizes = [p.numel() for p in model.parameters()]

    @property
    def size(self) -> int:
        """Number of values in the flat vector (every parameter)."""
        return sum(self.sizes)

    def flatten(self, tensors=None) -> Tensor:
        """One vector from the model's parameters (or from a list of tensors in the same order)."""
        tensors = list(self.model.parameters()) if tensors is None else list(tensors)
        return torch.cat([t.reshape(-1) for t in tensors])

    def as_dict(self, flat: Tensor) -> dict[str, Tensor]:
        """Views of ``flat`` shaped as the model's named parameters; a vector of another size is a ``ValueError``."""
        return dict(zip(self.names, split_flat_parameters(self.model, flat)))

    def assign(self, flat: Tensor) -> nn.Module:
        """Copy a flat vector into the model's own parameters (in place) and return the model."""
        return load_flat_parameters(self.model, flat)

    def forward(self, flat: Tensor, x: Tensor) -> Tensor:
        """The model's output on ``x`` with the parameters ``flat`` (a functional call; the module is unchanged)."""
        return functional_call(self.model, self.as_dict(flat), (x,))


# ------------------------------------------------------------------------------------------- losses
def soft_label_loss(logits: Tensor, labels: Tensor) -> Tensor:
    """Cross-entropy against hard labels ``(B,)`` or against ``softmax`` of label logits ``(B, C)`` (DATM).

    Introduced in chapter 10."""
    if labels.ndim == 1:
        return F.cross_entropy(logits, labels)
    return -(F.softmax(labels, dim=1) * F.log_softmax(logits, dim=1)).sum(dim=1).mean()


# ---------------------------------------------------------------------------------------- unrolling
@dataclass
class StepPlan:
    """What a step needs to be replayed exactly: its minibatch and its augmentation draw.

    Machinery behind chapter 10."""

    index: Tensor
    augmentation: dict | None


@dataclass
class UnrollResult:
    """The matching loss, its gradients (``None`` where a quantity was not learnable) and the final student.

    Introduced in chapter 10."""

    loss: Tensor
    images_grad: Tensor
    labels_grad: Tensor | None
    lr_grad: Tensor
    final_params: Tensor
    param_distance: Tensor


def plan_steps(num_images: int, steps: int, batch_size: int | None, generator: torch.Generator,
               augment: DSA | None, image_size: int, device) -> list[StepPlan]:
    """MTT's minibatches (chunks of a random permutation, a fresh one when it runs out) and one DSA draw per
    step (one family per step, per-image parameters), all drawn up front from ``generator``.

    Introduced in chapter 10."""
    batch = num_images if batch_size is None else batch_size
    if not isinstance(batch, int) or not 1 <= batch <= num_images:
        raise ValueError(f"batch_size must be an int in [1, {num_images}] (or None: every image), got {batch_size!r}")
    plans, order = [], torch.empty(0, dtype=torch.long)
    for _ in range(steps):
        if len(order) < batch:
            order = torch.randperm(num_images, generator=generator, device=generator.device).cpu()
        index, order = order[:batch], order[batch:]
        draw = None
        if augment is not None:
            draw = augment.sample(batch, generator, device, image_size=image_size, shared_family=True)
        plans.append(StepPlan(index.to(device), draw))
    return plans


def _step_loss(student: "_Student", theta: Tensor, images: Tensor, labels: Tensor, plan: StepPlan,
               augment: DSA | None, loss_fn) -> Tensor:
    x = images[plan.index]
    if augment is not None:
        x = augment.apply(x, plan.augmentation)
    return loss_fn(student.forward(theta, x), labels[plan.index])


def unrolled_matching(model: nn.Module, start: Tensor, target: Tensor, images: Tensor, labels: Tensor, lr: Tensor,
                      steps: int, generator: torch.Generator, batch_size: int | None = None,
                      augment: DSA | None = None, mode: str = "exact", loss_fn=soft_label_loss,
                      update: slice | None = None, match: slice | None = None) -> UnrollResult:
    """Unroll the student from ``start`` for ``steps`` SGD steps on (``images``, ``labels``) with step size
    ``lr`` and return the normalised matching loss against ``target`` with its gradients (see the module
    docstring).

    ``labels`` are hard ``(n,)`` labels (no gradient) or label logits ``(n, C)``, which get a gradient.
    ``start`` and ``target`` are flat parameter vectors of ``model`` (:class:`FlatParameters`).

    Expert Decoupling (LTDD) needs two restrictions, both slices of the flat vector (``None``: all of it):
    ``update`` — the parameters the student trains (the rest stay at ``start``; the gradient is taken with
    respect to this block only, not computed in full and zeroed); ``match`` — the parameters that enter the
    loss and its normaliser (the backbone in the representation phase).

    The student trains in training mode, as MTT's ``student_net.train()``: a batch-norm layer normalises with
    the statistics of the step's minibatch, whatever mode ``model`` was in (it is put back afterwards). As in
    MTT, the running statistics of such a layer are updated in place; they do not enter the result.

    Introduced in chapter 10.
    """
    was_training = model.training
    model.train()
    try:
        return _unrolled_matching(model, start, target, images, labels, lr, steps, generator, batch_size, augment,
                                  mode, loss_fn, update, match)
    finally:
        model.train(was_training)


def _unrolled_matching(model, start, target, images, labels, lr, steps, generator, batch_size, augment, mode,
                       loss_fn, update, match) -> UnrollResult:
    if mode not in GRAD_MODES:
        raise ValueError(f"mode={mode!r} is unknown; choose one of {list(GRAD_MODES)}")
    positive_int("steps", steps)
    student = _Student(FlatParameters(model), start.detach(), update)
    student.flat.as_dict(target)  # shape check
    match = _check_slice("match", match, student.flat.size)
    plans = plan_steps(len(images), steps, batch_size, generator, augment, images.shape[-1], images.device)
    soft = labels.ndim == 2
    images = images.detach().requires_grad_(True)
    labels = labels.detach().requires_grad_(soft) if soft else labels
    lr = lr.detach().reshape(()).requires_grad_(True)
    target = target.detach()
    param_distance = (student.start - target)[match].pow(2).sum()
    if not param_distance > 0:
        raise ValueError("the expert did not move between start and target on the matched parameters "
                         "(zero distance): nothing to match")
    inputs = [images, lr] + ([labels] if soft else [])
    if mode == "bptt":
        theta = student.moving_start().requires_grad_(True)
        for plan in plans:
            loss = _step_loss(student, theta, images, labels, plan, augment, loss_fn)
            theta = theta - lr * torch.autograd.grad(loss, theta, create_graph=True)[0]
        final = student.full(theta)
        matching = (final - target)[match].pow(2).sum() / param_distance
        grads = torch.autograd.grad(matching, inputs)
        return _result(matching, grads, soft, final, param_distance)
    return _adjoint(student, target, match, param_distance, images, labels, lr, plans, augment, loss_fn, soft,
                    propagate=(mode == "exact"))


class _Student:
    """The flat student with only the ``update`` block moving: ``full(θ)`` puts the moving block back between
    the fixed parts of ``start``."""

    def __init__(self, flat: FlatParameters, start: Tensor, update: slice | None):
        flat.as_dict(start)  # shape check
        self.flat, self.start = flat, start
        self.update = _check_slice("update", update, flat.size)

    def moving_start(self) -> Tensor:
        return self.start[self.update].clone()

    def full(self, theta: Tensor) -> Tensor:
        if self.update == slice(0, self.flat.size):
            return theta
        return torch.cat([self.start[:self.update.start], theta, self.start[self.update.stop:]])

    def forward(self, theta: Tensor, x: Tensor) -> Tensor:
        return self.flat.forward(self.full(theta), x)


def _check_slice(name: str, block: slice | None, size: int) -> slice:
    if block is None:
        return slice(0, size)
    if not isinstance(block, slice) or block.step not in (None, 1):
        raise ValueError(f"{name} must be a contiguous slice of the flat parameters (or None), got {block!r}")
    start, stop, _ = block.indices(size)
    if not 0 <= start < stop <= size:
        raise ValueError(f"{name}={block!r} selects no parameters of the {size} in the flat vector")
    return slice(start, stop)


def _adjoint(student, target, match, param_distance, images, labels, lr, plans, augment, loss_fn, soft,
             propagate: bool) -> UnrollResult:
    """The exact (``propagate``) or TESLA backward pass: forward without graphs, then one VJP per step."""
    thetas, lr_value = [student.moving_start()], lr.detach()
    for plan in plans:  # forward: gradients without a graph, only the parameters are kept
        theta = thetas[-1].requires_grad_(True)
        with torch.enable_grad():
            loss = _step_loss(student, theta, images.detach(), labels.detach(), plan, augment, loss_fn)
            g = torch.autograd.grad(loss, theta)[0]
        thetas[-1] = theta.detach()
        thetas.append((theta - lr_value * g).detach())
    final = student.full(thetas.pop())
    difference = torch.zeros_like(final)
    difference[match] = (final - target)[match]
    matching = difference.pow(2).sum() / param_distance
    adjoint = (2 * difference / param_distance)[student.update]  # a_N = ∂L/∂θ_N (the moving block)
    images_grad = torch.zeros_like(images)
    labels_grad = torch.zeros_like(labels) if soft else None
    lr_grad = torch.zeros_like(lr)
    for plan, theta in zip(reversed(plans), reversed(thetas)):
        theta = theta.requires_grad_(True)
        loss = _step_loss(student, theta, images, labels, plan, augment, loss_fn)
        g = torch.autograd.grad(loss, theta, create_graph=True)[0]
        stepped = ((theta - lr * g) * adjoint).sum()      # ⟨θ_{i+1}, a_{i+1}⟩: its VJP is the step's adjoint
        wrt = ([theta] if propagate else []) + [images, lr] + ([labels] if soft else [])
        parts = torch.autograd.grad(stepped, wrt, allow_unused=True)
        if propagate:
            adjoint, parts = parts[0].detach(), parts[1:]
        images_grad += _or_zero(parts[0], images)
        lr_grad += _or_zero(parts[1], lr)
        if soft:
            labels_grad += _or_zero(parts[2], labels)
    return UnrollResult(matching.detach(), images_grad, labels_grad, lr_grad, final, param_distance)


def _or_zero(grad: Tensor | None, like: Tensor) -> Tensor:
    return torch.zeros_like(like) if grad is None else grad.detach()


def _result(matching: Tensor, grads, soft: bool, theta: Tensor, param_distance: Tensor) -> UnrollResult:
    images_grad, lr_grad = grads[0], grads[1]
    return UnrollResult(matching.detach(), images_grad, grads[2] if soft else None, lr_grad, theta.detach(),
                        param_distance)


# ------------------------------------------------------------------------------------------ memory
class SavedTensorMeter:
    """Peak bytes of the tensors autograd keeps for the backward pass (the memory that grows with the unrolled
    steps), on any device: every saved tensor is counted when autograd packs it and uncounted when autograd
    lets go of it. Use as ``with SavedTensorMeter() as meter: ...; meter.peak``.

    Machinery behind chapter 10."""

    def __init__(self):
        self.live = self.peak = 0

    def __enter__(self) -> "SavedTensorMeter":
        meter = self

        class Saved:
            def __init__(self, tensor: Tensor):
                self.tensor, self.size = tensor, tensor.numel() * tensor.element_size()
                meter.live += self.size
                meter.peak = max(meter.peak, meter.live)

            def __del__(self):
                meter.live -= self.size

        self.hooks = torch.autograd.graph.saved_tensors_hooks(Saved, lambda saved: saved.tensor)
        self.hooks.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.hooks.__exit__(*exc)


def saved_memory(mode: str, steps: int, num_classes: int = 10, ipc: int = 10, channels: int = 3,
                 image_size: int = 32, width: int = 128, seed: int = 0) -> int:
    """Peak bytes autograd keeps while :func:`unrolled_matching` runs ``steps`` steps in ``mode`` on random
    images of the given shape (ConvNet-3, hard labels, every image in every step) — the quantity that grows
    with the steps in ``bptt`` and stays flat in ``exact`` and ``tesla``.

    Introduced in chapter 10."""
    from ..config import make_generator
    from ..models import get_model

    model = get_model("convnet", channels, num_classes, image_size, generator=make_generator(seed, "memory"),
                      width=width)
    start = FlatParameters(model).flatten().detach().clone()
    g = torch.Generator().manual_seed(seed)
    images = torch.randn(num_classes * ipc, channels, image_size, image_size, generator=g)
    labels = torch.arange(num_classes).repeat_interleave(ipc)
    with SavedTensorMeter() as meter:
        unrolled_matching(model, start, start + 0.01, images, labels, torch.tensor(0.01), steps,
                          make_generator(seed, "memory-steps"), mode=mode)
    return meter.peak


__all__ = ["FlatParameters", "GRAD_MODES", "SavedTensorMeter", "saved_memory", "StepPlan", "UnrollResult", "plan_steps", "soft_label_loss",
           "unrolled_matching"]
