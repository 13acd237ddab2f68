"""How long does building CCIFAR10-DD's corrupted images take?

Times every corruption of :mod:`ltdd.data.corruptions` on 32×32 RGB images (crops of scikit-learn's two bundled
sample photos, no download) at the Biased-DD severities (CIFAR-10-C level = severity + 1) and prints images per
second. In CCIFAR10-DD each of the 50,000 training images gets exactly one corruption, 5,000 per corruption, so
the projected build time is ``sum_k 5000 / rate_k`` per severity. The target is <= 5 minutes on 2 CPU cores.
``--build N`` also times one real :func:`corrupt_biased_dd` call on N images with balanced attributes.

    python benchmarks/corruptions.py [--images 512] [--severities 1 2 3 4] [--build 50000]

Frost needs the Hendrycks textures (see ``ltdd.data.corruptions.frost_textures``); without them the benchmark
uses ``frost_textures="procedural"`` (same cost: a crop and a weighted sum) and says so.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np
import torch

from ltdd.data.corruptions import (CORRUPTIONS, FrostTexturesMissing, corrupt, corrupt_biased_dd, frost_textures,
                                   sample_photo_crops)

PER_CORRUPTION = 5000  # 50,000 CIFAR-10 training images / 10 corruptions
BUDGET_S = 300.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=512, help="images per corruption and severity")
    parser.add_argument("--severities", type=int, nargs="+", default=[1, 2, 3, 4], help="Biased-DD severities")
    parser.add_argument("--build", type=int, default=0, help="also time corrupt_biased_dd on this many images")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: unchanged)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    try:
        frost_textures()
        procedural = os.environ.get("LTDD_FROST_TEXTURES", "").strip().lower() == "procedural"
        frost_source = None
        frost_note = "procedural substitute (LTDD_FROST_TEXTURES)" if procedural else "original Hendrycks textures"
    except FrostTexturesMissing:
        frost_source, frost_note = "procedural", "procedural substitute (original textures not installed)"
    print(f"frost textures: {frost_note}")

    images = sample_photo_crops(args.images)
    generator = torch.Generator().manual_seed(0)
    corrupt(images[:8], "frost", 2, generator, frost_textures=frost_source)  # load / draw the textures once

    rates: dict[int, dict[str, float]] = {}
    for severity in args.severities:
        rates[severity] = {}
        for name in CORRUPTIONS:
            start = time.perf_counter()
            corrupt(images, name, severity + 1, generator, frost_textures=frost_source)
            rates[severity][name] = len(images) / (time.perf_counter() - start)

    header = f"{'corruption':>11} " + " ".join(f"{'s=%d (L%d)' % (s, s + 1):>11}" for s in args.severities)
    print(f"\nimages per second, {args.images} images of 32×32 per cell, torch threads={torch.get_num_threads()}")
    print(header)
    for name in CORRUPTIONS:
        print(f"{name:>11} " + " ".join(f"{rates[s][name]:>11.0f}" for s in args.severities))
    projections = {s: sum(PER_CORRUPTION / r for r in rates[s].values()) for s in args.severities}
    print(f"{'projected':>11} " + " ".join(f"{projections[s]:>10.1f}s" for s in args.severities))
    worst = max(projections.values())
    verdict = "meets" if worst <= BUDGET_S else "MISSES"
    print(f"\nprojected time for a 50,000-image CCIFAR10-DD training set (5,000 per corruption): "
          f"{worst:.1f} s at the slowest severity — {verdict} the {BUDGET_S / 60:.0f}-minute target")

    build = None
    if args.build:
        n = args.build
        pool = images.repeat((n + len(images) - 1) // len(images), 1, 1, 1)[:n]
        attributes = torch.arange(n) % len(CORRUPTIONS)
        severity = max(args.severities)
        start = time.perf_counter()
        corrupt_biased_dd(pool, attributes, severity, torch.Generator().manual_seed(1), frost_textures=frost_source)
        build = time.perf_counter() - start
        print(f"measured: corrupt_biased_dd on {n} images (severity {severity}) took {build:.1f} s")

    print(json.dumps({"images": args.images, "threads": torch.get_num_threads(), "frost": frost_note,
                      "rates": {str(s): {k: round(v, 1) for k, v in r.items()} for s, r in rates.items()},
                      "projected_s": {str(s): round(v, 2) for s, v in projections.items()},
                      "measured_build_s": None if build is None else round(build, 2)}))


if __name__ == "__main__":
    main()
