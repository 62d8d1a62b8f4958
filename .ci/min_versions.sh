#!/usr/bin/env bash
# Minimum-versions stage: install every dependency at the floor that pyproject.toml declares
# (pinned in ci/min-versions.txt) into a fresh virtual environment, then run the fast tier
# of the test suite there. torch is the one exception: the stage installs torch==2.13.0,
# the CPU build that this machine has; the torch floor is declared, not tested here.
#
# Run from the repository root:  bash .ci/min_versions.sh [extra pytest arguments]
# Environment: PYTHON (interpreter that creates the venv; default python3.11, else python3).
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)

py="${PYTHON:-}"
if [ -z "$py" ]; then
  if command -v python3.11 >/dev/null 2>&1; then py=python3.11; else py=python3; fi
fi
venv="$(mktemp -d "${TMPDIR:-/tmp}/neurosig-min-XXXXXX")"
# on any exit: remove the environment, then print the time the stage took (removal included)
cleanup() {
  rm -rf "$venv"
  echo "min-versions stage: $(( $(date +%s) - start )) s elapsed"
}
trap cleanup EXIT

echo "min-versions stage: $("$py" --version) in $venv"
"$py" -m venv "$venv"
"$venv/bin/python" -m pip install -q --no-compile "torch==2.13.0" -c ci/min-versions.txt -e ".[dev]"
"$venv/bin/python" ci/check_min_versions.py

set +e
"$venv/bin/python" -m pytest -q -m "not slow and not realdata" -p no:cacheprovider "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
  echo "min-versions stage: pytest collected no tests" >&2
  exit 1
fi
if [ "$rc" -ne 0 ]; then
  echo "min-versions stage: FAILED (pytest exit code $rc)" >&2
fi
exit "$rc"
