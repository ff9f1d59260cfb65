#!/usr/bin/env bash
# The setup-devshell action's work, kept in a script so tests can run it
# against a fake GITHUB_* environment.
#
# In:  DEVSHELL_SPEC (what to pip-install; empty: devshell is already on PATH),
#      DEVSHELL_CACHE (a team binary cache, oci://REGISTRY/REPO; empty: none),
#      DEVSHELL_CACHE_PUSH ("true": push what the cache lacks),
#      DEVSHELL_HOME, GITHUB_ENV, GITHUB_PATH, GITHUB_OUTPUT, CI.
# Out: the pinned PATH entries in GITHUB_PATH, the variables in GITHUB_ENV,
#      `profile=<store path>` in GITHUB_OUTPUT.
set -euo pipefail

: "${GITHUB_ENV:?GITHUB_ENV must be set}"
: "${GITHUB_PATH:?GITHUB_PATH must be set}"
: "${GITHUB_OUTPUT:?GITHUB_OUTPUT must be set}"

# devshell needs Python 3.11 or newer (pyproject.toml's requires-python), and
# this script takes whatever `python3` is first on PATH: say so plainly here
# rather than let pip fail with "requires a different Python" further down.
if ! command -v python3 >/dev/null 2>&1; then
  echo "::error title=setup-devshell::no python3 on PATH; devshell needs Python 3.11 or newer: add actions/setup-python (python-version: '3.11' or newer) before this step" >&2
  exit 1
fi
# Printed with %-formatting so that any python3, however old, can answer.
version=$(python3 -c 'import sys; print("%d.%d.%d" % tuple(sys.version_info[:3]))') || version=unknown
IFS=. read -r major minor _ <<<"$version"
if ! { [ "$major" -gt 3 ] || { [ "$major" -eq 3 ] && [ "$minor" -ge 11 ]; }; } 2>/dev/null; then
  echo "::error title=setup-devshell::devshell needs Python 3.11 or newer, but python3 on PATH ($(command -v python3)) is $version: add actions/setup-python (python-version: '3.11' or newer) before this step" >&2
  exit 1
fi

devshell=devshell
if [ -n "${DEVSHELL_SPEC:-}" ]; then
  venv="${RUNNER_TEMP:-${TMPDIR:-/tmp}}/devshell-venv"
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet "$DEVSHELL_SPEC"
  devshell="$venv/bin/devshell"
  # Later steps may call devshell itself (devshell run, devshell status).
  echo "$venv/bin" >> "$GITHUB_PATH"
fi

# An empty input names no cache (and must not turn off one devshell's config names).
if [ -n "${DEVSHELL_CACHE:-}" ]; then
  # One line of GITHUB_ENV, never more: a value with a newline would set others.
  case "$DEVSHELL_CACHE" in
    *$'\n'* | *$'\r'*)
      echo "::error title=setup-devshell::binary-cache must be one line: oci://REGISTRY/REPOSITORY" >&2
      exit 1
      ;;
  esac
  echo "DEVSHELL_CACHE=$DEVSHELL_CACHE" >> "$GITHUB_ENV"
else
  unset DEVSHELL_CACHE
fi

# The same pinned shell as on every developer's machine: a stale or missing
# lock is an error here, never a silent re-lock.
"$devshell" install --locked
if [ "${DEVSHELL_CACHE_PUSH:-false}" = "true" ]; then
  if [ -z "${DEVSHELL_CACHE:-}" ]; then
    echo "::error title=setup-devshell::binary-cache-push is true but no binary-cache is given: set binary-cache to oci://REGISTRY/REPOSITORY" >&2
    exit 1
  fi
  "$devshell" cache push --locked
fi
"$devshell" env --locked --format github
profile=$("$devshell" env --locked --format json | python3 -c 'import json, sys; print(json.load(sys.stdin)["DEVSHELL_PROFILE"])')
echo "profile=$profile" >> "$GITHUB_OUTPUT"
echo "devshell: the pinned environment is exported (profile $profile)"
