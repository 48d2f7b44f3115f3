#!/usr/bin/env bash
# Install solverhub, every plugin under plugins/ and the pinned dependencies.
# Usage: bash scripts/install.sh [dev]
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
req=requirements.txt
[ "${1:-}" = "dev" ] && req=requirements-dev.txt
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore
"$PY" -m pip install -q -r "$req"
editables=(-e .)
for plugin in plugins/*/; do
  [ -f "$plugin/pyproject.toml" ] && editables+=(-e "$plugin")
done
"$PY" -m pip install -q --no-deps --no-build-isolation "${editables[@]}"
