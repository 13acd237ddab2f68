#!/usr/bin/env bash
# Every chapter as a reader outside the repository runs it (issue 19): build the wheel, install it into a fresh
# virtual environment, copy the notebooks (nothing else) into an empty folder and run them there under nbmake.
#
#   bash tests/run_installed_chapters.sh [NBMAKE/PYTEST ARGS...]     # e.g. --junitxml=notebooks.xml -n 2
#
# The fresh environment sees the running environment's packages (torch, nbmake, ipykernel, ...) through a
# .pth path line, so nothing is downloaded and torch is not installed twice; that environment's own ltdd (an
# editable install of this checkout) stays invisible, because a path line does not run the .pth files of
# the folder it adds. The script fails if the chapters would import ltdd from anywhere but the wheel.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
python=${PYTHON:-python}
work=$(mktemp -d -t ltdd-installed-XXXXXX)
trap 'rm -rf "$work"' EXIT

"$python" -m pip wheel "$repo" --no-deps --no-build-isolation --quiet -w "$work/wheel"
"$python" -m venv --without-pip "$work/venv"  # pip (and setuptools) come from the running environment
venv_python="$work/venv/bin/python"
outer_site=$("$python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
inner_site=$("$venv_python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
echo "$outer_site" > "$inner_site/outer-environment.pth"
# Dependencies are resolved against what is already installed (--no-index: a missing one fails, not downloads).
"$venv_python" -m pip install --quiet --no-index --force-reinstall --no-deps "$work"/wheel/ltdd-*.whl
"$venv_python" -m pip install --quiet --no-index "$work"/wheel/ltdd-*.whl

mkdir "$work/book"
cp "$repo"/chapters/*.ipynb "$work/book/"
cd "$work/book"
export PATH="$work/venv/bin:$PATH"  # the kernel nbmake starts is this environment's python
"$venv_python" - "$work" <<'PY'
import sys, pathlib
import ltdd, ltdd.reference
from jupyter_client.kernelspec import KernelSpecManager
work = pathlib.Path(sys.argv[1]).resolve()
package = pathlib.Path(ltdd.__file__).resolve()
if work not in package.parents:
    sys.exit(f"ltdd is imported from {package}, not from the wheel installed under {work}")
if ltdd.reference.REFERENCE_DIR != package.parent / "reference_data":
    sys.exit(f"REFERENCE_DIR is {ltdd.reference.REFERENCE_DIR}, not the wheel's reference_data")
kernel = KernelSpecManager().get_kernel_spec("python3").argv[0]
print(f"installed-package check: ltdd from {package.parent}, {len(list(ltdd.reference.REFERENCE_DIR.iterdir()))} "
      f"recorded files, kernel {kernel}; notebooks in {pathlib.Path.cwd()}: "
      f"{sorted(p.name for p in pathlib.Path.cwd().iterdir())}")
PY
"$venv_python" -m pytest ./*.ipynb --nbmake --nbmake-kernel=python3 -p no:cacheprovider "$@"
