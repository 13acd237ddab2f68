"""Expert trajectories for trajectory matching (MTT, DATM, LTDD): train networks on real data and keep their
weights after every epoch.

An *expert* is one network trained on the real training set; its *trajectory* is one ``[epochs + 1, P]`` tensor,
the flat parameters (in ``model.parameters()`` order) at initialisation and after each epoch. A *buffer* is a
folder of such trajectories with a ``buffer.json`` that records what they were trained on, so that a distiller
can refuse a buffer from another dataset or model. Trajectories are loaded lazily, memory-mapped.

Two kinds of experts:

* **representation experts** (MTT's ``buffer.py``; LTDD's first stage): every parameter trained on the
  (long-tailed) set, instance-balanced batches, plain SGD (MTT: lr 0.01, no momentum, no weight decay) with
  DSA on every batch;
* **classifier experts** (LTDD's second stage, Expert Decoupling): start from a representation expert's final
  weights, freeze everything but the final linear layer, and train that with class-balanced sampling (a class
  passes over the classes in shuffled order, ``per_draw`` images of each class per visit; an epoch draws as many
  images as ``max_c n_c × C``, as LTDD's ``ClassAwareSampler``).

The backbone / classifier split is read from the model (its ``classifier`` module), never from hard-coded
parameter counts (:func:`classifier_slice`).

Optimisers: plain SGD (MTT) or GSAM on SGD (DATM, LTDD: ``optimizer="gsam"``, :mod:`ltdd.optim`). ZCA
whitening is a property of the dataset (``load_dataset(name, zca=0.1)``, :mod:`ltdd.data.zca`): a buffer
records it with the dataset's options, so a distiller on unwhitened data refuses whitened experts.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm.auto import tqdm

from ..augment import DSA, strategy_for
from ..checks import positive_int
from ..config import make_generator
from ..data import ImageDataset
from ..files import atomic_save, atomic_write_text, locked, read_json, settings_mismatch
from ..models import get_model
from ..optim import GSAMConfig, gsam_step

STAGES = ("representation", "classifier")
OPTIMIZERS = ("sgd", "gsam")
BUFFER_FORMAT = 1


@dataclass(frozen=True)
class ExpertConfig:
    """How experts are trained (defaults: MTT's ``buffer.py``). Introduced in chapter 10."""

    epochs: int = 50
    lr: float = 0.01
    momentum: float = 0.0
    weight_decay: float = 0.0
    batch_size: int = 256
    dsa: bool = True
    stage: str = "representation"
    """``"representation"``: train every parameter on shuffled images; ``"classifier"``: only the final linear
    layer, class-balanced, from a representation expert's final weights."""
    per_draw: int = 4
    """Images taken from a class each time a pass over the classes visits it (classifier stage; LTDD's
    ``num_samples_cls``, :func:`~ltdd.distill.experts.class_balanced_order`)."""
    optimizer: str = "sgd"
    """``"sgd"`` (MTT) or ``"gsam"`` (DATM, LTDD: GSAM around the same SGD, :mod:`ltdd.optim`)."""
    gsam_rho: float = 0.01
    gsam_alpha: float = 0.3
    gsam_adaptive: bool = True

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "per_draw"):
            positive_int(name, getattr(self, name))
        if self.stage not in STAGES:
            raise ValueError(f"stage={self.stage!r} is unknown; choose one of {list(STAGES)}")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr!r}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer={self.optimizer!r} is unknown; choose one of {list(OPTIMIZERS)}")
        self.gsam()  # checks rho and alpha

    def gsam(self) -> GSAMConfig:
        """The GSAM settings as a :class:`~ltdd.optim.GSAMConfig`."""
        return GSAMConfig(self.gsam_rho, self.gsam_alpha, self.gsam_adaptive)


def flat_parameters(model: nn.Module) -> Tensor:
    """The model's parameters as one detached vector, in ``model.parameters()`` order: the layout in which
    experts are stored and :class:`~ltdd.distill.unroll.FlatParameters` reads them.

    Machinery behind chapter 10."""
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()])


def split_flat_parameters(model: nn.Module, flat: Tensor) -> list[Tensor]:
    """Views of the vector ``flat`` shaped as ``model``'s parameters, in ``model.parameters()`` order; a vector
    of another size is a ``ValueError``.

    Machinery behind chapter 10."""
    shapes = [p.shape for p in model.parameters()]
    sizes = [p.numel() for p in model.parameters()]
    if flat.ndim != 1 or flat.numel() != sum(sizes):
        raise ValueError(f"flat parameters must be a vector of {sum(sizes)} values for this model, "
                         f"got shape {tuple(flat.shape)}")
    return [part.view(shape) for part, shape in zip(flat.split(sizes), shapes)]


def load_flat_parameters(model: nn.Module, flat: Tensor) -> nn.Module:
    """Copy a flat vector (from :func:`flat_parameters` or a trajectory) into the model's parameters (in place)
    and return the model.

    Machinery behind chapter 10."""
    with torch.no_grad():
        for p, value in zip(model.parameters(), split_flat_parameters(model, flat)):
            p.copy_(value)
    return model


def classifier_slice(model: nn.Module) -> slice:
    """Where the final linear layer (``model.classifier``) sits in the flat parameter vector. It must be a
    contiguous block (true for every :class:`~ltdd.models.FeatureClassifier`, whose classifier comes last).

    Introduced in chapter 11."""
    if not isinstance(getattr(model, "classifier", None), nn.Module):
        raise ValueError(f"{type(model).__name__} has no 'classifier' module to decouple")
    positions, offset = [], 0
    for name, p in model.named_parameters():
        if name.startswith("classifier."):
            positions.append((offset, offset + p.numel()))
        offset += p.numel()
    if any(b[0] != a[1] for a, b in zip(positions, positions[1:])):
        raise ValueError("the classifier's parameters are not contiguous in the flat vector")
    return slice(positions[0][0], positions[-1][1])


def class_balanced_order(labels: Tensor, num_classes: int, num_samples: int, per_draw: int,
                         generator: torch.Generator) -> Tensor:
    """Class-aware sampling (Shen et al. 2016) as LTDD's ``ClassAwareSampler`` (from OLTR) draws it: go through
    the classes in a shuffled order, reshuffled after every pass; each class visited gives the next
    ``per_draw`` images of its own shuffled queue, reshuffled whenever it runs out. Every pass over the classes
    therefore takes exactly ``per_draw`` images from each class. ``num_samples`` indices in all; classes
    without images are left out of the passes. Every shuffle is drawn from ``generator``.

    Introduced in chapter 11."""
    members = [torch.nonzero(labels.cpu() == c, as_tuple=True)[0] for c in range(num_classes)]
    present = torch.tensor([c for c in range(num_classes) if len(members[c])], dtype=torch.long)
    if not len(present):
        raise ValueError("labels holds no image of any of the num_classes classes")
    queues = {int(c): torch.empty(0, dtype=torch.long) for c in present}
    classes = torch.empty(0, dtype=torch.long)
    chosen: list[Tensor] = []
    total = 0
    while total < num_samples:
        if not len(classes):  # a new pass over the classes, in a fresh order
            classes = present[_shuffle(len(present), generator)]
        c, classes = int(classes[0]), classes[1:]
        take = []
        while sum(len(t) for t in take) < per_draw:
            if not len(queues[c]):
                queues[c] = members[c][_shuffle(len(members[c]), generator)]
            needed = per_draw - sum(len(t) for t in take)
            take.append(queues[c][:needed])
            queues[c] = queues[c][needed:]
        chosen.append(torch.cat(take))
        total += per_draw
    return torch.cat(chosen)[:num_samples]


def _shuffle(n: int, generator: torch.Generator) -> Tensor:
    return torch.randperm(n, generator=generator, device=generator.device).cpu()


def _epoch_order(config: ExpertConfig, labels: Tensor, num_classes: int, generator: torch.Generator) -> Tensor:
    if config.stage == "representation":
        return torch.randperm(len(labels), generator=generator, device=generator.device).cpu()
    counts = torch.bincount(labels.cpu(), minlength=num_classes)
    return class_balanced_order(labels, num_classes, int(counts.max()) * num_classes, config.per_draw, generator)


def train_expert(dataset: ImageDataset, config: ExpertConfig = ExpertConfig(), model: str = "convnet",
                 model_options: dict | None = None, seed: int = 0, initial: Tensor | None = None,
                 progress: bool = False) -> Tensor:
    """Train one expert and return its trajectory, a ``[epochs + 1, P]`` tensor on the CPU.

    ``initial`` (a flat vector) replaces the random initialisation; the classifier stage requires it (a
    representation expert's last row). Weights, batch order and augmentation come from generators derived
    from ``seed``.

    Machinery behind chapter 10.
    """
    net = get_model(model, dataset.channels, dataset.num_classes, dataset.image_size,
                    generator=make_generator(seed, "expert-init"), **(model_options or {}))
    if config.stage == "classifier" and initial is None:
        raise ValueError("a classifier expert starts from a representation expert's final weights: pass initial=")
    if initial is not None:
        load_flat_parameters(net, initial.to(torch.float32))
    net = net.to(dataset.device).train()
    trainable = list(net.parameters())
    if config.stage == "classifier":
        for name, p in net.named_parameters():
            p.requires_grad_(name.startswith("classifier."))
        trainable = list(net.classifier.parameters())
    optimizer = torch.optim.SGD(trainable, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)
    dsa = DSA(strategy_for(dataset.hflip_safe)) if config.dsa else None
    generator = make_generator(seed, "expert-train", config.stage, device=dataset.device)
    images, labels = dataset.train.images, dataset.train.labels
    snapshots = [flat_parameters(net).cpu()]
    for _ in tqdm(range(config.epochs), desc=f"{config.stage} expert {seed}", disable=not progress, leave=False):
        order = _epoch_order(config, labels, dataset.num_classes, generator).to(images.device)
        for start in range(0, len(order), config.batch_size):
            batch = order[start:start + config.batch_size]
            x = images[batch] if dsa is None else dsa(images[batch], generator)
            if config.optimizer == "gsam":  # the same augmented batch at w and at w + e
                gsam_step(trainable, lambda: F.cross_entropy(net(x), labels[batch]), optimizer, config.gsam())
                continue
            loss = F.cross_entropy(net(x), labels[batch])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        snapshots.append(flat_parameters(net).cpu())
    return torch.stack(snapshots)


# ------------------------------------------------------------------------------------------- buffers
def expert_file_problem(path: Path, epochs: int, num_parameters: int | None = None) -> str | None:
    """What is wrong with an expert file (``None``: nothing): unreadable (e.g. cut short by a crash or a full
    disk), or not a float ``[epochs + 1, num_parameters]`` trajectory. Reads only the header (memory-mapped).

    Machinery behind chapter 10."""
    try:
        trajectory = torch.load(path, map_location="cpu", mmap=True, weights_only=True)
    except Exception as error:  # torch raises many kinds for a damaged archive
        return f"damaged or incomplete ({type(error).__name__}: {' '.join(str(error).split())[:120]})"
    expected = (epochs + 1, num_parameters) if num_parameters is not None else None
    if not isinstance(trajectory, Tensor) or not trajectory.is_floating_point() or trajectory.ndim != 2:
        return "not an expert trajectory (a float [epochs + 1, parameters] tensor)"
    if trajectory.shape[0] != epochs + 1 or (expected and tuple(trajectory.shape) != expected):
        return f"of shape {tuple(trajectory.shape)}, not the buffer's ({epochs + 1}, {num_parameters})"
    return None


def buffer_record(dataset: ImageDataset, config: ExpertConfig, model: str, model_options: dict | None) -> dict:
    """What a buffer was trained on and how: compared by :meth:`ExpertBuffer.check_compatible`.

    Machinery behind chapter 10."""
    probe = get_model(model, dataset.channels, dataset.num_classes, dataset.image_size, **(model_options or {}))
    cls = classifier_slice(probe)
    return {"format": BUFFER_FORMAT, "dataset": dataset.name, "dataset_options": dict(dataset.options),
            "image_shape": list(dataset.image_shape), "num_classes": dataset.num_classes,
            "train_counts": dataset.train.class_counts(dataset.num_classes), "model": model,
            "model_options": dict(model_options or {}), "num_parameters": sum(p.numel() for p in probe.parameters()),
            "classifier": [cls.start, cls.stop], "config": dataclasses.asdict(config)}


class ExpertBuffer:
    """A folder of expert trajectories (``expert_000.pt`` …) and its ``buffer.json``; trajectories load lazily.

    Introduced in chapter 10."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        record = self.path / "buffer.json"
        if not record.is_file():
            raise FileNotFoundError(f"{self.path} is not an expert buffer (no buffer.json)")
        self.record = read_json(record)
        if not isinstance(self.record, dict) or not isinstance(self.record.get("config"), dict):
            raise ValueError(f"{record} is not an expert buffer record (hand-edited?)")
        self._files = sorted(self.path.glob("expert_*.pt"))  # listed once: a distiller reads experts every step
        for file in self._files:
            problem = expert_file_problem(file, self.epochs, self.record.get("num_parameters"))
            if problem:
                raise ValueError(f"expert file {file} is {problem}; delete it and rerun `experts` (with the same "
                                 f"settings) to train it again")

    def fingerprint(self) -> dict:
        """What pins the buffer's content for a resumed run: its record and every expert file's name and size
        (files are written once, atomically, from a seed the record holds)."""
        return {"record": json.dumps(self.record, sort_keys=True),
                "experts": [[file.name, file.stat().st_size] for file in self._files]}

    def pin(self, fingerprint: dict) -> None:
        """Use exactly the experts of ``fingerprint`` (:meth:`~ltdd.distill.experts.ExpertBuffer.fingerprint` of the run
        being resumed): experts added since are left out, so the run goes on as before; a changed record or a
        missing or changed expert is a ``ValueError``."""
        if fingerprint.get("record") != json.dumps(self.record, sort_keys=True):
            raise ValueError(f"expert buffer {self.path} was retrained since the checkpoint (buffer.json differs)")
        present = {file.name: file for file in self._files}
        files = []
        for name, size in fingerprint.get("experts", []):
            if name not in present or present[name].stat().st_size != size:
                raise ValueError(f"expert buffer {self.path}: {name} is missing or changed since the checkpoint")
            files.append(present[name])
        self._files = files

    @property
    def epochs(self) -> int:
        """Epochs of every trajectory (each holds ``epochs + 1`` snapshots, the initialisation first)."""
        return self.record["config"]["epochs"]

    def files(self) -> list[Path]:
        """The trajectory files present when the buffer was opened."""
        return list(self._files)

    def __len__(self) -> int:
        return len(self.files())

    def __getitem__(self, index: int) -> Tensor:
        files = self.files()
        if not -len(files) <= index < len(files):
            raise IndexError(f"expert {index} is not in {self.path} ({len(files)} experts)")
        return torch.load(files[index], map_location="cpu", mmap=True, weights_only=True)

    def snapshot(self, index: int, epoch: int) -> Tensor:
        """Expert ``index``'s parameters after ``epoch`` epochs (0: the initialisation)."""
        if not isinstance(epoch, int) or not 0 <= epoch <= self.epochs:
            raise ValueError(f"epoch={epoch!r} is outside the buffer's trajectories (0 … {self.epochs})")
        return self[index][epoch].clone()

    def check_window(self, start_epoch: int, expert_epochs: int) -> None:
        """A matching window ``[start, start + M]`` must lie inside the stored trajectories."""
        if start_epoch < 0 or start_epoch + expert_epochs > self.epochs:
            raise ValueError(f"start epoch {start_epoch} + expert_epochs {expert_epochs} reaches beyond the buffer's "
                             f"{self.epochs} epochs; choose start_epoch <= {self.epochs - expert_epochs}")

    def check_compatible(self, dataset: ImageDataset, model: str, model_options: dict | None = None) -> None:
        """Refuse a buffer trained on another dataset (name, options, shape, class counts) or model."""
        mine = {"dataset": dataset.name, "dataset_options": dict(dataset.options),
                "image_shape": list(dataset.image_shape), "num_classes": dataset.num_classes,
                "train_counts": dataset.train.class_counts(dataset.num_classes), "model": model,
                "model_options": dict(model_options or {})}
        different = settings_mismatch(self.record, mine, list(mine))
        if different:
            raise ValueError(f"expert buffer {self.path} was trained for other data or another model: {different}")


def train_buffer(dataset: ImageDataset, out: str | Path, num_experts: int, config: ExpertConfig = ExpertConfig(),
                 model: str = "convnet", model_options: dict | None = None, first_seed: int = 0,
                 representation: str | Path | None = None, progress: bool = True,
                 shard: tuple[int, int] = (0, 1)) -> ExpertBuffer:
    """Train ``num_experts`` experts into the folder ``out`` (expert ``k`` from seed ``first_seed + k``).

    ``shard=(i, n)`` trains only the experts ``k`` with ``k % n == i``, so ``n`` processes (or GPUs) can fill
    one folder side by side; every expert is the same whichever process trains it.

    Experts already in the folder are kept (a stopped run resumes; each file is written atomically), and the
    folder's ``buffer.json`` must agree with this call. Classifier experts (``config.stage="classifier"``) start
    from the final weights of expert ``k`` of the ``representation`` buffer.

    Introduced in chapter 10.
    """
    positive_int("num_experts", num_experts)
    index, shards = shard
    if not (isinstance(shards, int) and shards >= 1 and isinstance(index, int) and 0 <= index < shards):
        raise ValueError(f"shard must be (i, n) with 0 <= i < n, got {shard!r}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    record = buffer_record(dataset, config, model, model_options)
    source = None
    if config.stage == "classifier":
        if representation is None:
            raise ValueError("classifier experts need the representation buffer they start from: representation=")
        source = ExpertBuffer(representation)
        source.check_compatible(dataset, model, model_options)
        if len(source) < num_experts:
            raise ValueError(f"{representation} holds {len(source)} experts, {num_experts} classifier experts asked")
        record["representation"] = str(representation)
    record["seed"] = first_seed
    existing = out / "buffer.json"
    with locked(out):  # shards started together: one writes the record, the others read it
        if existing.is_file():
            different = settings_mismatch(read_json(existing), record)
            if different:
                raise ValueError(f"{out} holds experts trained with other settings: {different}")
        else:
            atomic_write_text(json.dumps(record, indent=1), existing)
    for k in tqdm(range(index, num_experts, shards), desc=f"{config.stage} experts", disable=not progress):
        path = out / f"expert_{k:03d}.pt"
        if path.is_file():
            problem = expert_file_problem(path, config.epochs, record["num_parameters"])
            if not problem:
                continue
            print(f"{path} is {problem}: training it again", file=sys.stderr)
        initial = None if source is None else source[k][-1]
        atomic_save(train_expert(dataset, config, model, model_options, first_seed + k, initial), path)
    return ExpertBuffer(out)


__all__ = ["BUFFER_FORMAT", "ExpertBuffer", "ExpertConfig", "STAGES", "buffer_record", "class_balanced_order",
           "classifier_slice", "expert_file_problem", "flat_parameters", "load_flat_parameters",
           "split_flat_parameters", "train_buffer", "train_expert"]
