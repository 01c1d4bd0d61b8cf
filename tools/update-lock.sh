#!/usr/bin/env bash
# Regenerate the locks that CI and the development set-up install from (see CONTRIBUTING.md):
#
#   requirements/dev.lock     netlint's dependencies, the `dev` extra and the build backend, at
#                             the newest releases pyproject.toml allowed when last upgraded, for
#                             every Python >= 3.11 on every platform (one universal lock, with
#                             the hashes of every file).
#   requirements/lowest.lock  the same with each direct requirement at its lowest allowed release
#                             (`--resolution lowest-direct`): what `.ci/run` tests the lower
#                             bounds with.
#   requirements/action.lock  netlint's dependencies and the build backend only, at dev.lock's
#                             versions: what the GitHub Action (action.yml) installs.
#
# Run from the development venv (it has uv). Arguments go to every `uv pip compile` run:
#   tools/update-lock.sh                          keep every pin; add and drop what pyproject.toml
#                                                 added or dropped (after adding a dependency)
#   tools/update-lock.sh --upgrade                every pin to the newest release allowed
#   tools/update-lock.sh --upgrade-package ruff   one package to its newest release
set -euo pipefail
cd "$(dirname "$0")/.."
command -v uv >/dev/null || { echo "update-lock: uv is not on PATH (it is in the dev extra)" >&2; exit 1; }

# pyproject.toml's [build-system] requires, locked too: CI and README install netlint with
# --no-build-isolation, so the build backend comes from the lock instead of an unpinned download.
# (A fixed, relative path: the locks name their sources, and must not change from run to run.)
build_in=requirements/.build-system.in
trap 'rm -f "$build_in"' EXIT
python3 -c 'import sys, tomllib; sys.stdout.write("".join(r + "\n" for r in tomllib.load(open("pyproject.toml", "rb"))["build-system"]["requires"]))' >"$build_in"

compile() {
    uv pip compile pyproject.toml "$build_in" --extra dev --universal --python-version 3.11 \
        --generate-hashes --quiet --custom-compile-command "tools/update-lock.sh" "$@"
}
compile --output-file requirements/dev.lock "$@"
compile --output-file requirements/lowest.lock --resolution lowest-direct "$@"
# requirements/action.lock: what the GitHub Action (action.yml) installs, netlint's own
# dependencies and the build backend without the dev extra, at dev.lock's versions (the ones CI
# tested). After dev.lock, whose pins it takes as constraints.
uv pip compile pyproject.toml "$build_in" --universal --python-version 3.11 --generate-hashes \
    --quiet --custom-compile-command "tools/update-lock.sh" --constraint requirements/dev.lock \
    --output-file requirements/action.lock "$@"
echo "update-lock: wrote requirements/dev.lock, lowest.lock and action.lock" >&2
