"""Seconds per image step of gradient matching (DC): the synthetic per-class gradients in one backward pass
through per-class parameter copies (``per_class_grads="vmap"``) against the reference's loop of one
``autograd.grad(create_graph=True)`` per class, measured side by side in one run.

    python benchmarks/gm_speed.py                    # CPU, the CIFAR-10 shape
    python benchmarks/gm_speed.py --size 16 --width 64 --batch-real 128   # the cpu profile's coloured digits
    python benchmarks/gm_speed.py --device cuda

Random tensors with CIFAR-10's shape (10 classes, 3×32×32; ``--size`` changes the side), IPC 10, ConvNet-3;
one image step
(:meth:`ltdd.distill.gm.GradientMatcher.matching_step`) against one fixed network, so the inner training
loop, which both paths share, is left out. Steps of the two paths alternate, so a drift in machine speed hits
both alike. Both paths give the same images (tests/test_gm.py).
"""

from __future__ import annotations

import argparse
import statistics

import torch

from ltdd.distill import make_distiller

from distill_speed import timed  # same folder

from ltdd.data.core import ImageDataset, LabeledImages


def random_dataset(device: torch.device, size: int, per_class: int = 300) -> ImageDataset:
    g = torch.Generator().manual_seed(0)
    labels = torch.arange(10).repeat_interleave(per_class)
    split = LabeledImages(torch.randn(len(labels), 3, size, size, generator=g), labels)
    return ImageDataset(f"random-3x{size}x{size}", split, split, [str(c) for c in range(10)], (0.5,) * 3,
                        (0.25,) * 3, True).to(device)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--batch-real", type=int, default=256)
    parser.add_argument("--steps", type=int, default=5)
    args = parser.parse_args()
    device = torch.device(args.device)
    dataset = random_dataset(device, args.size)
    distillers = {path: make_distiller("dc", dataset, ipc=10, net_width=args.width, batch_real=args.batch_real,
                                       per_class_grads=path) for path in ("vmap", "loop")}
    nets = {}
    for path, distiller in distillers.items():
        distiller.init()
        nets[path] = distiller.new_network()
        distiller.matching_step(nets[path])  # warm-up
    times = {path: [] for path in distillers}
    for _ in range(args.steps):
        for path, distiller in distillers.items():
            times[path].append(timed(lambda: distiller.matching_step(nets[path]), device))
    median = {path: statistics.median(values) for path, values in times.items()}
    gpu = torch.cuda.get_device_name(device) if device.type == "cuda" else None
    print(f"device {device}{f' ({gpu})' if gpu else ''}, threads {torch.get_num_threads()}, 3×{args.size}×{args.size}, "
          f"width {args.width}, "
          f"batch_real {args.batch_real}, IPC 10, median of {args.steps} steps")
    for path, seconds in median.items():
        print(f"  per_class_grads={path:5s} {seconds:.3f} s per image step")
    print(f"  loop / vmap = {median['loop'] / median['vmap']:.2f}")


if __name__ == "__main__":
    main()
