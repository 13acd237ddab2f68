"""How much does DSA cost next to the network it feeds?

Prints the ratio of DSA time to one ConvNet-3 forward pass on the same batch of 256 images of 32×32
(3 channels), for the three ways DSA is used: per-sample (training an evaluation network), Siamese with one
parameter set per class (10 groups, the batched DM path) and mode M (every family in sequence). Mode S
picks a random family per call, so its time is averaged over many calls. The target is a ratio <= 0.1.

    python benchmarks/dsa.py [--device cuda] [--repeats 50]
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from ltdd.augment import DEFAULT_STRATEGY, DSA
from ltdd.config import get_device, make_generator
from ltdd.models import get_model


def seconds_per_call(fn, repeats: int, device: torch.device) -> float:
    for _ in range(3):  # warm-up
        fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / repeats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default=None)
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    device = get_device(args.device)
    x = torch.randn(256, 3, 32, 32, generator=make_generator(0)).to(device)
    groups = torch.arange(256, device=device) % 10
    net = get_model("convnet", 3, 10, 32, generator=make_generator(1)).to(device)
    dsa_s, dsa_m = DSA(DEFAULT_STRATEGY, "S"), DSA(DEFAULT_STRATEGY, "M")
    generator = make_generator(2, device=device)

    with torch.no_grad():
        forward = seconds_per_call(lambda: net(x), args.repeats, device)
        timings = {
            "per_sample_mode_S": seconds_per_call(lambda: dsa_s(x, generator), args.repeats * 4, device),
            "siamese_10_groups_mode_S": seconds_per_call(
                lambda: dsa_s.apply(x, dsa_s.sample(10, generator, device, 32), groups), args.repeats * 4, device),
            "per_sample_mode_M": seconds_per_call(lambda: dsa_m(x, generator), args.repeats, device),
        }
    ratios = {name: t / forward for name, t in timings.items()}
    for name, ratio in ratios.items():
        print(f"{name:>26}: DSA / ConvNet-3 forward = {ratio:.3f}")
    print(json.dumps({"device": str(device), "threads": torch.get_num_threads(), "batch": 256,
                      "ratios": {k: round(v, 4) for k, v in ratios.items()}}))


if __name__ == "__main__":
    main()
