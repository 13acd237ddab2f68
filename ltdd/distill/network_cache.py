"""Trained helper networks kept on disk between runs, when the environment asks for it.

Some methods train networks before they distil: the coresets' feature network (herding, k-center) and DSDM's
pre-trained networks. Training them is deterministic in the dataset, the settings and the seed, and on a CPU it
can take hours (DSDM's five networks on CIFAR-10 take longer than the distillation), so two runs that need the
same networks (IPC 1 and IPC 10 of one comparison, in two processes) should train them once.

With the environment variable ``LTDD_NETWORK_CACHE`` set to a folder, :func:`cached_networks` keeps each set of
networks there, named by a hash of its recipe: the kind, the settings, the seed, the dataset's name and options, a
fingerprint of its training images and labels, the device type and the torch and ``ltdd`` versions. A file is
used only when its recorded recipe equals the requested one, and written atomically. Without the variable nothing
is written and every run trains its own networks, as before; with it, results are the same, only sooner.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Callable

import torch
from torch import Tensor, nn

from ..data import ImageDataset
from ..data.cache import recipe_hash
from ..files import atomic_save

NETWORK_CACHE_ENV = "LTDD_NETWORK_CACHE"
"""The environment variable naming the cache folder (unset: no disk cache)."""

_FINGERPRINTS: dict[int, tuple[Tensor, Tensor, str]] = {}


def training_fingerprint(dataset: ImageDataset) -> str:
    """SHA-256 of the training images' and labels' bytes (computed once per tensor in a process).

    Machinery behind chapter 07."""
    images, labels = dataset.train.images, dataset.train.labels
    known = _FINGERPRINTS.get(id(images))
    if known is not None and known[0] is images and known[1] is labels:
        return known[2]
    digest = hashlib.sha256()
    for tensor in (images, labels):
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    _FINGERPRINTS.clear()
    _FINGERPRINTS[id(images)] = (images, labels, digest.hexdigest())
    return digest.hexdigest()


def network_recipe(kind: str, dataset: ImageDataset, **settings) -> dict:
    """Everything a set of trained networks depends on, as a JSON-ready dict. Machinery behind chapter 07."""
    return {"kind": kind, "settings": settings, "dataset": dataset.name, "options": dict(dataset.options),
            "training_data": training_fingerprint(dataset), "device": dataset.device.type,
            "torch": torch.__version__}


def cached_networks(recipe: dict, train: Callable[[], list[nn.Module]],
                    fresh: Callable[[], list[nn.Module]]) -> list[nn.Module]:
    """The networks ``train()`` returns, kept under ``$LTDD_NETWORK_CACHE`` by ``recipe``: a file there with the
    same recipe gives its weights to the untrained networks ``fresh()`` builds (same classes and shapes) instead.
    Without the variable, simply ``train()``.

    Machinery behind chapter 07."""
    folder = os.environ.get(NETWORK_CACHE_ENV)
    if not folder:
        return train()
    path = Path(folder) / f"{recipe['kind']}-{recipe_hash(recipe)}.pt"
    plain = _plain(recipe)
    if path.is_file():
        try:
            stored = torch.load(path, map_location="cpu", weights_only=True)
        except Exception:  # an unreadable entry is trained again and replaced  # noqa: BLE001
            stored = None
        if stored is not None and stored.get("recipe") == plain:
            networks = fresh()
            for network, state in zip(networks, stored["states"], strict=True):
                network.load_state_dict(state)
            return networks
    networks = train()
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_save({"recipe": plain, "states": [network.state_dict() for network in networks]}, path)
    return networks


def _plain(recipe: dict) -> dict:
    """The recipe as it reads back from a file (tuples as lists), so the two compare equal."""
    return json.loads(json.dumps(recipe, default=str))
