"""Seconds per iteration of DM, IDM and DSDM at the CIFAR-10 shape, measured side by side in one run: the
reference code's shape of work (a loop over classes, one class's real images per forward pass), ltdd's per-class
loop, its batched path, uncompiled and with ``compile_embedding=True``; and DM's overhead over the bare network
work it contains. Ratios below 1 are faster than the reference's shape.

    python benchmarks/distill_speed.py                  # CPU (all cores torch sees)
    python benchmarks/distill_speed.py --device cuda    # GPU

The data are random tensors with CIFAR-10's shape: 10 classes, 3×32×32, IPC 10, 256 real images per class per
iteration, ConvNet-3 of width 128 (the paper setting). All paths draw the same real images and the same
augmentation, so they do the same work in a different shape (and, tested elsewhere, give the same images up to
float rounding). Iterations of the paths alternate, so a drift in machine speed hits all alike. The reference's
shape runs in ltdd's code (its sampling, augmentation and image update), so its ratio measures the shape of the
network work alone.

"Bare network work" is what a DM iteration cannot avoid: the forward pass of 2,560 augmented real images
(inference mode, in the iteration's own chunks on the CPU) and the forward/backward pass of the 100 synthetic
images, timed alone on pre-augmented tensors. DM's ratio to it is the cost of everything else: network
initialisation, sampling, augmentation, the image update and bookkeeping.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from ltdd.data.core import ImageDataset, LabeledImages
from ltdd.distill import make_distiller
from ltdd.distill.matching import CPU_REAL_CHUNK
from ltdd.models import get_model

CLASSES, IPC, PER_CLASS_POOL, BATCH_REAL, SIZE = 10, 10, 300, 256, 32


def random_dataset(device: torch.device) -> ImageDataset:
    """Random normalised images with CIFAR-10's shape (``PER_CLASS_POOL`` per class)."""
    g = torch.Generator().manual_seed(0)
    labels = torch.arange(CLASSES).repeat_interleave(PER_CLASS_POOL)
    images = torch.randn(len(labels), 3, SIZE, SIZE, generator=g)
    split = LabeledImages(images, labels)
    test = LabeledImages(images[:CLASSES * 10], labels[:CLASSES * 10])
    dataset = ImageDataset("random-cifar10-shape", split, test, [str(c) for c in range(CLASSES)],
                           (0.5, 0.5, 0.5), (0.25, 0.25, 0.25), True)
    return dataset.to(device)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn, device: torch.device) -> float:
    synchronize(device)
    start = time.perf_counter()
    fn()
    synchronize(device)
    return time.perf_counter() - start


METHOD_SETTINGS = {
    "dm": {},
    "idm": {},
    "dsdm": {"num_pretrained": 2, "pretrain_epochs": 1},  # pre-training is not part of an iteration
}


PATHS = {
    "reference": {"forward": "per_class"},  # and, below, one class per forward pass in the default memory format
    "per_class": {"forward": "per_class"},
    "batched": {"forward": "batched"},
    "compiled": {"forward": "batched", "compile_embedding": True},
}
"""The paths timed: the reference code's shape (a loop over classes, each class's 256 real images in one forward
pass, default memory format), ltdd's per-class loop and batched path (real images in cache-sized chunks,
channels-last on the CPU), and the batched path with ``compile_embedding=True``."""


def make_path(method: str, dataset: ImageDataset, path: str):
    distiller = make_distiller(method, dataset, seed=0, ipc=IPC, batch_real=BATCH_REAL, **PATHS[path],
                               **METHOD_SETTINGS[method])
    if path == "reference":
        distiller.real_chunk, distiller.channels_last = None, False
    return distiller


def time_paths(method: str, dataset: ImageDataset, iterations: int, extra: dict | None = None) -> dict[str, float]:
    """Median seconds per iteration of every path of :data:`PATHS` (and of ``extra`` callables), taken in turn."""
    distillers = {path: make_path(method, dataset, path) for path in PATHS}
    for d in distillers.values():
        d.run(2, progress=False)  # initialise, pre-train, compile (the first iteration and the second's last chunk)
    work = {path: d.step for path, d in distillers.items()} | (extra or {})
    times: dict[str, list[float]] = {name: [] for name in work}
    for _ in range(iterations):
        for name, fn in work.items():
            times[name].append(timed(fn, dataset.device))
    return {name: statistics.median(values) for name, values in times.items()}


def bare_network_work(dataset: ImageDataset, channels_last: bool):
    """The forward/backward work a DM iteration contains, on pre-augmented tensors, as a callable."""
    g = torch.Generator().manual_seed(1)
    net = get_model("convnet", 3, CLASSES, SIZE, generator=g).to(dataset.device).requires_grad_(False)
    real = torch.randn(CLASSES * BATCH_REAL, 3, SIZE, SIZE, generator=g).to(dataset.device)
    synthetic = torch.randn(CLASSES * IPC, 3, SIZE, SIZE, generator=g).to(dataset.device)
    if channels_last:
        net = net.to(memory_format=torch.channels_last)
        real = real.contiguous(memory_format=torch.channels_last)
        synthetic = synthetic.contiguous(memory_format=torch.channels_last)

    chunk = CPU_REAL_CHUNK if dataset.device.type == "cpu" else len(real)  # the iteration's own chunking

    def work() -> None:
        with torch.inference_mode():
            features = torch.cat([net.embed(part) for part in real.split(chunk)])
            target = features.reshape(CLASSES, BATCH_REAL, -1).mean(1)
        point = synthetic.clone().requires_grad_(True)
        loss = (target.clone() - net.embed(point).reshape(CLASSES, IPC, -1).mean(1)).pow(2).sum()
        torch.autograd.grad(loss, point)

    work()
    return work


def forward_by_chunk(device: torch.device, chunks: list[int], repeats: int = 3) -> dict[str, float]:
    """Seconds (best of ``repeats``) of the inference forward pass of 2,560 real images through ConvNet-3 in
    chunks of each size, in channels-last memory, and in the reference's shape (one class of 256 per pass, default
    memory format); also checks that every chunking gives the same features bit for bit."""
    g = torch.Generator().manual_seed(2)
    net = get_model("convnet", 3, CLASSES, SIZE, generator=g).to(device).requires_grad_(False)
    real = torch.randn(CLASSES * BATCH_REAL, 3, SIZE, SIZE, generator=g).to(device)
    last = net.to(memory_format=torch.channels_last) if device.type == "cpu" else net
    real_last = real.contiguous(memory_format=torch.channels_last) if device.type == "cpu" else real

    def forward(model, images, chunk):
        with torch.inference_mode():
            return torch.cat([model.embed(part) for part in images.split(chunk)])

    work = {"reference (256, default memory)": lambda: forward(net, real, BATCH_REAL)}
    work |= {f"chunks of {chunk}": (lambda chunk=chunk: forward(last, real_last, chunk)) for chunk in chunks}
    features = [forward(last, real_last, chunk) for chunk in chunks]
    assert all(torch.equal(f, features[0]) for f in features), "chunking changed the features"
    return {name: min(timed(fn, device) for _ in range(repeats)) for name, fn in work.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--iterations", type=int, default=None, help="timed iterations per path (default 3 CPU, 20 GPU)")
    parser.add_argument("--methods", default="dm,idm,dsdm")
    parser.add_argument("--chunks", default="", help="also time the real forward pass alone at these chunk sizes, "
                                                     "e.g. 16,32,128")
    args = parser.parse_args()
    device = torch.device(args.device)
    iterations = args.iterations or (20 if device.type == "cuda" else 3)
    dataset = random_dataset(device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(f"device: {name}; torch {torch.__version__}; {CLASSES} classes, IPC {IPC}, {BATCH_REAL} real/class, "
          f"ConvNet-3 width 128, median of {iterations} iterations per path")
    methods = [method for method in args.methods.split(",") if method]
    if methods:
        print(f"{'method':<6} {'reference s/it':>15} {'per-class s/it':>15} {'batched s/it':>13} {'compiled s/it':>14}"
              f" {'batched / reference':>20} {'compiled / reference':>21}")
    results = {}
    for method in methods:
        extra = {"bare": bare_network_work(dataset, channels_last=device.type == "cpu")} if method == "dm" else None
        paths = time_paths(method, dataset, iterations, extra)
        results[method] = paths
        print(f"{method:<6} {paths['reference']:>15.4f} {paths['per_class']:>15.4f} {paths['batched']:>13.4f} "
              f"{paths['compiled']:>14.4f} {paths['batched'] / paths['reference']:>19.2f}x "
              f"{paths['compiled'] / paths['reference']:>20.2f}x", flush=True)
    if args.chunks:
        chunks = [int(c) for c in args.chunks.split(",")]
        times = forward_by_chunk(device, chunks)
        reference = times["reference (256, default memory)"]
        print("forward pass of 2,560 real images (best of 3; features equal bit for bit across chunk sizes):")
        for name, seconds in times.items():
            print(f"  {name:<32} {seconds:.4f} s  ({seconds / reference:.2f} of the reference)")
    if "dm" in results:
        bare = results["dm"]["bare"]
        print(f"DM bare network work: {bare:.4f} s; DM batched iteration / bare work = "
              f"{results['dm']['batched'] / bare:.3f} (target <= 1.15 on the CPU)")


if __name__ == "__main__":
    main()
