#!/usr/bin/env bash
# The setup-devshell action's work, kept in a script so tests can run it
# against a fake GITHUB_* environment.
#
# In:  DEVSHELL_SPEC (what to pip-install; empty: devshell is already on PATH),
#      DEVSHELL_HOME, GITHUB_ENV, GITHUB_PATH, GITHUB_OUTPUT, CI.
# Out: the pinned PATH entries in GITHUB_PATH, the variables in GITHUB_ENV,
#      `profile=<store path>` in GITHUB_OUTPUT.
set -euo pipefail

: "${GITHUB_ENV:?GITHUB_ENV must be set}"
: "${GITHUB_PATH:?GITHUB_PATH must be set}"
: "${GITHUB_OUTPUT:?GITHUB_OUTPUT must be set}"

devshell=devshell
if [ -n "${DEVSHELL_SPEC:-}" ]; then
  venv="${RUNNER_TEMP:-${TMPDIR:-/tmp}}/devshell-venv"
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet "$DEVSHELL_SPEC"
  devshell="$venv/bin/devshell"
  # Later steps may call devshell itself (devshell run, devshell status).
  echo "$venv/bin" >> "$GITHUB_PATH"
fi

# The same pinned shell as on every developer's machine: a stale or missing
# lock is an error here, never a silent re-lock.
"$devshell" install --locked
"$devshell" env --locked --format github
profile=$("$devshell" env --locked --format json | python3 -c 'import json, sys; print(json.load(sys.stdin)["DEVSHELL_PROFILE"])')
echo "profile=$profile" >> "$GITHUB_OUTPUT"
echo "devshell: the pinned environment is exported (profile $profile)"
