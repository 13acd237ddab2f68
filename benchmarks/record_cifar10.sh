#!/usr/bin/env bash
# The book's recorded results on natural images: every CIFAR-10 experiment of issue 18 at the scale two CPU cores
# can finish, each resumable (rerun the same line after an interruption: finished rows are kept), then the
# data/reference/ files the chapters read.
#
#   bash benchmarks/record_cifar10.sh prepare            # CIFAR-10 (JPEG mirror) in torchvision's layout
#   bash benchmarks/record_cifar10.sh dm-family 10       # experiment 1 at IPC 10 (and 1)
#   bash benchmarks/record_cifar10.sh dm-iterations      # experiment 1: DM at IPC 10 against its iterations
#   bash benchmarks/record_cifar10.sh longtail-effect 100  # experiment 2 at beta 100 (and 10)
#   bash benchmarks/record_cifar10.sh tm-ablation        # experiment 5
#   bash benchmarks/record_cifar10.sh bias               # experiment 3: DM and DeDM at four bias ratios
#   bash benchmarks/record_cifar10.sh bias-full          # experiment 3: the full-set control (5 epochs)
#   bash benchmarks/record_cifar10.sh crlt-dd            # experiment 4
#   bash benchmarks/record_cifar10.sh comparison         # experiment 6
#   bash benchmarks/record_cifar10.sh record             # write data/reference/cifar10_*.json from the runs
#
# Environment: RUNS (default ~/ltdd-runs: outputs, outside the work tree), DATA (default ~/ltdd-data),
# MIRROR (default ../shared/data/cifar10-jpeg.zip), SEEDS (default 0). Each run uses one thread at nice 19, so
# two of them share a 2-core machine with interactive work.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-$HOME/ltdd-runs}
DATA=${DATA:-$HOME/ltdd-data}
MIRROR=${MIRROR:-../shared/data/cifar10-jpeg.zip}
SEEDS=${SEEDS:-0}
# Each run gets a session of its own whose scheduling group is niced too: with autogroup scheduling (most Linux
# desktops and containers) plain `nice` only ranks processes within one session, and a niced run would still take
# half the machine from interactive work started in another terminal.
ltdd() {
  setsid -w bash -c 'echo 19 > /proc/self/autogroup 2> /dev/null
    exec nice -n 19 env OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 python -m ltdd "$@"' ltdd "$@"
}
# Trained helper networks (the coresets' feature network, DSDM's pre-trained ones) are kept here between runs, so
# IPC 1 and IPC 10 train them once (ltdd.distill.network_cache; the same networks, only sooner).
export LTDD_NETWORK_CACHE=${LTDD_NETWORK_CACHE:-$RUNS/network-cache}
run_flags=(--profile cpu --device cpu --data-root "$DATA" --no-download --resume)
common=("${run_flags[@]}" --seeds "$SEEDS")

case "${1:-}" in
  prepare)
    python "$(dirname "$MIRROR")/make_cifar10.py" "$DATA" ;;
  dm-family)  # random, herding, k-center, DM, IDM, DSDM; 200 iterations, 128 real/class, width 64, 3 x 300 epochs
    ltdd compare --dataset cifar10 --ipc "${2:?IPC}" --iterations 200 --eval-epochs 300 --networks 3 \
      --protocol ours --rows random,DM,herding,k-center,IDM,DSDM --out "$RUNS/dm-family-ipc$2" "${common[@]}" ;;
  dm-iterations)  # one DM run at IPC 10 (the dm-family table's seed and settings) evaluated after 50 ... 800 iterations
    ltdd convergence dm --dataset cifar10 --ipc 10 --seed 0 --eval-epochs 300 --networks 3 \
      --checkpoints 50,100,200,400,800 --out "$RUNS/dm-iterations-ipc10" "${run_flags[@]}" ;;
  longtail-effect)  # CIFAR-10-LT at beta against a balanced subset of the same size; 20 epochs, width 64
    ltdd longtail-effect --dataset cifar10 --imbalance "${2:?BETA}" --epochs 20 --networks 1 \
      --out "$RUNS/longtail-effect-beta$2" "${common[@]}" ;;
  tm-ablation)  # MTT, DATM base, +DAM, +DAM+ED on CIFAR-10-LT beta 100, IPC 10: the cpu scale, ZCA 0.1
    ltdd tm-ablation --dataset cifar10-lt --imbalance 100 --zca 0.1 --out "$RUNS/tm-ablation-beta100" \
      "${common[@]}" ;;
  bias|bias-full)  # CCIFAR10-DD severity 4 at bias ratios 0, 0.5, 0.95, 1: DM and DeDM (oracle) at IPC 10, 200
    # iterations, 3 networks x 300 epochs; then the full-set control, 5 epochs on the 50,000 images of each ratio
    # (about 10 minutes an epoch on one thread; saved after each ratio). The corruptions need imagecorruptions'
    # frost textures:
    # pip install --no-deps imagecorruptions==1.1.2
    stage=(--no-full-set); [ "$1" = bias-full ] && stage=(--full-epochs 5)
    ltdd bias-sweep DM=dm DeDM=dedm --dataset ccifar10-dd --ratios 0,0.5,0.95,1 --severities 4 --ipc 10 \
      --iterations 200 "${stage[@]}" --out "$RUNS/bias-ccifar10/sweep.json" "${common[@]}" ;;
  crlt-dd)  # CRLT-DD's Table III plans on CIFAR-10-LT beta 100: 200 DM iterations, 30 evaluation epochs
    ltdd rebalance table-iii --dataset cifar10-lt --imbalance 100 --iterations 200 --eval-epochs 30 \
      --networks 1 --out "$RUNS/crlt-dd-beta100" "${common[@]}" ;;
  comparison)  # chapter 12's method rows on CIFAR-10-LT beta 100, IPC 10, one protocol (3 x 300 epochs), the
    # cheapest first; CRLT-DD's plans and the whole long-tailed set come from the crlt-dd record instead (the whole
    # set for 3 x 300 epochs would take longer than all of these together)
    ltdd compare --dataset cifar10-lt --imbalance 100 --ipc 10 --iterations 200 --eval-epochs 300 --networks 3 \
      --rows "random,DM,k-center,herding,DSDM,MTT,DATM,LTDD (DAM+ED),DC,DSA,IDM" \
      --protocol ours --out "$RUNS/comparison-beta100" "${common[@]}" ;;
  record)
    python - "$RUNS" "$MIRROR" <<'PY'
import sys
from pathlib import Path

from ltdd.studies.recorded import record_experiment

runs, mirror = Path(sys.argv[1]), sys.argv[2]
plans = {"dm-family": {f"ipc{k}": runs / f"dm-family-ipc{k}" / "study.json" for k in (1, 10)},
         "dm-iterations": {"ipc10": runs / "dm-iterations-ipc10" / "study.json"},
         "longtail-effect": {f"beta{b}": runs / f"longtail-effect-beta{b}" / "study.json" for b in (10, 100)},
         "tm-ablation": {"beta100": runs / "tm-ablation-beta100" / "study.json"},
         "bias": {"severity4": runs / "bias-ccifar10" / "sweep.json"},
         "crlt-dd": {"beta100": runs / "crlt-dd-beta100" / "study.json"},
         "comparison": {"beta100": runs / "comparison-beta100" / "study.json"}}
for name, studies in plans.items():
    present = {key: path for key, path in studies.items() if path.is_file()}
    if present:
        print(record_experiment(name, present, mirror))
PY
    ;;
  *)
    sed -n '2,19p' "$0"; exit 2 ;;
esac
