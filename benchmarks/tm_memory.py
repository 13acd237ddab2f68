"""Peak memory and seconds per iteration of trajectory matching's unrolled student against the number of unrolled
steps, for each gradient mode (``bptt``, ``exact``, ``tesla``; :mod:`ltdd.distill.unroll`), side by side.

    python benchmarks/tm_memory.py                               # CPU, CIFAR-10 shape, IPC 10, steps 5 10 20 40
    python benchmarks/tm_memory.py --device cuda
    python benchmarks/tm_memory.py --width 32 --bptt-max-steps 20  # a lighter CPU run

Random tensors with CIFAR-10's shape (10 classes × IPC images, 3×32×32), ConvNet-3 (instance norm), hard
labels, every image in every step (MTT's ``batch_syn`` = all), no augmentation. Each (mode, steps) runs in a
fresh process so that peaks do not mix: on CUDA the peak is ``torch.cuda.max_memory_allocated`` during the
call; on the CPU it is the growth of the process's peak resident set (``ru_maxrss``) during the call, which
includes the allocator's slack. ``--bptt-max-steps`` skips the reference's largest unrolls (it grows by
hundreds of MB per step at this shape on the CPU).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

PROBE = """
import json, resource, sys, time, torch
from ltdd.config import make_generator
from ltdd.distill.unroll import FlatParameters, unrolled_matching
from ltdd.models import get_model
mode, steps, width, ipc, device, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), \
    torch.device(sys.argv[5]), int(sys.argv[6])
if threads:
    torch.set_num_threads(threads)
model = get_model("convnet", 3, 10, 32, generator=make_generator(0, "student"), width=width).to(device)
flat = FlatParameters(model)
start = flat.flatten().detach().clone()
target = start + 0.01 * torch.randn(flat.size, generator=torch.Generator().manual_seed(1)).to(device)
images = torch.randn(10 * ipc, 3, 32, 32, generator=torch.Generator().manual_seed(0)).to(device)
labels = torch.arange(10).repeat_interleave(ipc).to(device)
lr = torch.tensor(0.01, device=device)
def once():
    return unrolled_matching(model, start, target, images, labels, lr, steps, make_generator(0, "u", device=device),
                             mode=mode)
if device.type == "cuda":
    once(); torch.cuda.synchronize(); torch.cuda.reset_peak_memory_stats(device)
    base = torch.cuda.memory_allocated(device)
else:
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
started = time.perf_counter()
once()
if device.type == "cuda":
    torch.cuda.synchronize()
    peak = torch.cuda.max_memory_allocated(device) - base
else:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - base
print(json.dumps({"seconds": time.perf_counter() - started, "peak_bytes": peak}))
"""


def measure(mode: str, steps: int, args) -> dict:
    command = [sys.executable, "-c", PROBE, mode, str(steps), str(args.width), str(args.ipc), args.device,
               str(args.threads)]
    out = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--ipc", type=int, default=10)
    parser.add_argument("--steps", type=int, nargs="+", default=[5, 10, 20, 40])
    parser.add_argument("--modes", nargs="+", default=["bptt", "exact", "tesla"])
    parser.add_argument("--bptt-max-steps", type=int, default=None, help="skip bptt above this many steps")
    parser.add_argument("--threads", type=int, default=1, help="torch threads in each probe (0: torch's default)")
    args = parser.parse_args()
    started = time.strftime("%Y-%m-%d")
    print(f"ConvNet-3 width {args.width}, CIFAR-10 shape, IPC {args.ipc}, device {args.device}, "
          f"threads {args.threads}, {started}")
    print("| steps | " + " | ".join(f"{m} peak MB | {m} s/it" for m in args.modes) + " |")
    print("|---|" + "---|---|" * len(args.modes))
    for steps in args.steps:
        cells = []
        for mode in args.modes:
            if mode == "bptt" and args.bptt_max_steps is not None and steps > args.bptt_max_steps:
                cells += ["skipped", "skipped"]
                continue
            result = measure(mode, steps, args)
            cells += [f"{result['peak_bytes'] / 2**20:.0f}", f"{result['seconds']:.2f}"]
        print(f"| {steps} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
