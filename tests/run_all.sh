#!/usr/bin/env bash
# The project's test command (README "Run the tests"): install, package tests, notebooks (from the installed
# wheel), widgets under ipywidgets 7.7, the student edition, book build, browser check of the built book.
#
#   bash tests/run_all.sh               # inside an activated virtual environment
#   bash tests/run_all.sh --no-install  # skip `pip install -r requirements.txt`
#
# Every stage prints its wall time; the last line sums the checks as "N passed, N failed, N skipped".
# Exits non-zero if any stage fails.
set -uo pipefail
cd "$(dirname "$0")/.."
# One thread per process: two pytest workers with two threads each would oversubscribe two cores.
export LTDD_PROFILE=smoke PYTHONHASHSEED=0 OMP_NUM_THREADS=1
reports=$(mktemp -d)
failed_stages=()
times=()

stage() {
  local name=$1; shift
  echo; echo "=== stage: $name"
  local start=$SECONDS
  "$@"
  local rc=$?
  times+=("$name: $((SECONDS - start)) s (exit $rc)")
  echo "=== $name took $((SECONDS - start)) s (exit $rc)"
  [ "$rc" -eq 0 ] || failed_stages+=("$name")
}

if [ "${1:-}" != "--no-install" ]; then
  stage "install" python -m pip install -r requirements.txt
fi
stage "package tests" python -m pytest tests -n 2 -q -p no:cacheprovider --junitxml="$reports/tests.xml"
# The chapters run as a reader outside the repository runs them: from the built wheel, installed into a fresh
# environment, in a folder that holds only the notebooks (this is the only pass over the checkout's chapters:
# the package tests already import the checkout).
stage "notebooks from the installed wheel (nbmake, smoke profile)" bash tests/run_installed_chapters.sh \
  --nbmake-timeout=300 -n 2 -q --junitxml="$reports/notebooks.xml"
stage "widgets under ipywidgets 7.7 (Colab's)" bash tests/run_widgets_oldest.sh -q -n 0 \
  --junitxml="$reports/widgets7.xml"
student=$(mktemp -d)
stage "student edition (no solutions; nbmake, smoke profile)" bash -c "python -m ltdd student-edition '$student' > /dev/null \
  && cd '$student' && python -m pytest chapters --nbmake --nbmake-kernel=python3 --nbmake-timeout=300 -n 2 -q \
  -p no:cacheprovider --junitxml='$reports/student.xml'"
rm -rf "$student"
rm -rf _build
stage "book build (warnings are errors)" jupyter-book build . -W --keep-going
book_rc=$([ -f _build/html/index.html ] && [[ ! " ${failed_stages[*]} " =~ "book build" ]] && echo 0 || echo 1)
# Every page of _toc.yml in headless Chromium (Debian's chromium; .ci/run installs it): no console error,
# failed request, broken figure or broken internal link; at 1280 and 390 px no sideways overflow; figures and
# exercises numbered per chapter; Colab links into colab/. Its tests count in the summary (browser.xml).
stage "browser check (headless Chromium)" python -m pytest tests/browser -q -p no:cacheprovider \
  --junitxml="$reports/browser.xml"

echo; echo "=== stage times"; printf '  %s\n' "${times[@]}"
python - "$reports" "$book_rc" "${#failed_stages[@]}" <<'PY'
import pathlib, sys, xml.etree.ElementTree as ET
NOTEBOOK_LIMIT_S = 60
passed = failed = skipped = 0
for report in pathlib.Path(sys.argv[1]).glob("*.xml"):
    for suite in ET.parse(report).getroot().iter("testsuite"):
        total, bad = int(suite.get("tests", 0)), int(suite.get("failures", 0)) + int(suite.get("errors", 0))
        skip = int(suite.get("skipped", 0))
        passed, failed, skipped = passed + total - bad - skip, failed + bad, skipped + skip
# The issue's bar: every chapter runs top to bottom under the smoke profile in under 60 s.
notebooks = pathlib.Path(sys.argv[1]) / "notebooks.xml"
if notebooks.exists():
    for case in ET.parse(notebooks).getroot().iter("testcase"):
        seconds = float(case.get("time", 0))
        print(f"  notebook {case.get('name')}: {seconds:.1f} s")
        ran_clean = case.find("failure") is None and case.find("error") is None
        if ran_clean and seconds > NOTEBOOK_LIMIT_S:
            print(f"  FAILED: {case.get('name')} took {seconds:.1f} s, over the {NOTEBOOK_LIMIT_S} s limit")
            passed, failed = passed - 1, failed + 1
book_ok = sys.argv[2] == "0"
# Figures must reach the rendered pages (a backend without IPython's PNG display would print "<Figure ...>").
for page in sorted(pathlib.Path("_build/html/chapters").glob("[0-9][0-9]_*.html")):
    if page.stem != "00_how_to_use" and "_images/" not in page.read_text(encoding="utf-8"):
        print(f"  FAILED: {page} shows no figure")
        book_ok = False
passed, failed = passed + book_ok, failed + (not book_ok)
if int(sys.argv[3]) and not failed:
    failed = 1  # a stage failed before it could report (e.g. the install)
print(f"summary: {passed} passed, {failed} failed, {skipped} skipped")
sys.exit(1 if failed else 0)
PY
summary_rc=$?
[ ${#failed_stages[@]} -eq 0 ] && [ "$summary_rc" -eq 0 ]
