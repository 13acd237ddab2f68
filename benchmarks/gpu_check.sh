#!/usr/bin/env bash
# One prepared GPU check (issue 22), for a session that is lent a CUDA machine: at most ~10 minutes on one modern
# GPU. It refuses to start without CUDA and writes its report to ${OUT:-gpu_check}/report.md plus one log per step.
#
#   bash benchmarks/gpu_check.sh                 # every step
#   STEPS="tests chapters" bash benchmarks/gpu_check.sh
#
# Steps (each under its own time limit, so one slow step cannot eat the others' time):
#   tests     the package tests that touch CUDA (tests marked "needs CUDA", and the device tests)
#   chapters  every chapter's jupytext twin top to bottom with LTDD_PROFILE=smoke on CUDA, through IPython (so
#             `display` works without a Jupyter kernel); catches device mismatches and host syncs the CPU hides
#   speed     benchmarks/distill_speed.py --device cuda (DM's overhead over its bare network work)
#   memory    benchmarks/tm_memory.py --device cuda
# Python packages the machine lacks (IPython and its dependencies, nbformat, ...) travel as wheels in .whl/ (see the
# device tool's notes); they are installed into /tmp/site when .whl/ exists.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=$(realpath -m "${OUT:-gpu_check}")
STEPS=${STEPS:-"tests chapters speed memory"}
mkdir -p "$OUT"
if [ -d .whl ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    && export PYTHONPATH="/tmp/site:${PYTHONPATH:-}"
fi
export PYTHONPATH="$PWD:${PYTHONPATH:-}" PYTHONUNBUFFERED=1
if ! python3 -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
  echo "gpu_check: no CUDA device (torch.cuda.is_available() is False); this check only runs on a GPU"; exit 2
fi
report="$OUT/report.md"
python3 - > "$report" <<'PY'
import platform, torch
print(f"# GPU check\n\n- GPU: {torch.cuda.get_device_name(0)}\n- torch {torch.__version__}, CUDA {torch.version.cuda}, "
      f"Python {platform.python_version()}\n")
PY
status=0
step() {  # step NAME LIMIT_SECONDS COMMAND...
  local name=$1 limit=$2; shift 2
  local start=$SECONDS
  timeout "$limit" "$@" > "$OUT/$name.log" 2>&1
  local rc=$?
  echo "- $name: exit $rc in $((SECONDS - start)) s (log: $name.log)" >> "$report"
  [ "$rc" -eq 0 ] || status=1
}
for s in $STEPS; do
  case $s in
    tests) step tests 120 python3 -m pytest -q -p no:cacheprovider tests/test_bias.py tests/test_coreset.py \
             tests/test_config.py -k "cuda or device" ;;
    chapters)
      for chapter in chapters/[0-9][0-9]_*.py; do
        name=$(basename "$chapter" .py)
        step "chapter_$name" 120 bash -c "cd chapters && LTDD_PROFILE=smoke python3 -m IPython --no-banner \
          --colors=NoColor '$(basename "$chapter")'"
      done ;;
    speed) step speed 150 python3 benchmarks/distill_speed.py --device cuda ;;
    memory) step memory 120 python3 benchmarks/tm_memory.py --device cuda ;;
    *) echo "gpu_check: unknown step $s; steps are: tests chapters speed memory"; exit 2 ;;
  esac
done
cat "$report"
exit $status
