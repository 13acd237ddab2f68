#!/usr/bin/env bash
# The widget code under the oldest ipywidgets ltdd accepts (7.7, what Colab ships), beside the 8.x that the
# package tests use: a fresh environment that sees the running one's packages (a .pth path line) with
# ipywidgets 7.7.1 installed over them, then tests/test_widgets.py there.
#
#   bash tests/run_widgets_oldest.sh [PYTEST ARGS...]
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
python=${PYTHON:-python}
work=$(mktemp -d -t ltdd-widgets7-XXXXXX)
trap 'rm -rf "$work"' EXIT
"$python" -m venv --without-pip "$work/venv"  # pip comes from the running environment
"$python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])' \
  > "$("$work/venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/outer.pth"
"$work/venv/bin/python" -m pip install --quiet "ipywidgets==7.7.1" 2>&1 | grep -v "requires ipywidgets" || true
"$work/venv/bin/python" -c 'import ipywidgets, sys; v = ipywidgets.__version__; print("ipywidgets", v)
sys.exit(0 if v.startswith("7.7") else f"ipywidgets {v} was imported, not 7.7")'
cd "$repo"
"$work/venv/bin/python" -m pytest tests/test_widgets.py -p no:cacheprovider "$@"
