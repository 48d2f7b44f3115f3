#!/usr/bin/env bash
# The main job, end to end on embedded defaults: install everything, then solve
# the shipped problem set with the paper plugins, the builtins and the cvxpy
# baseline, and print the comparison table.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
solverhub plugins
solverhub compare problems/smooth problems/constrained problems/stochastic --option max_iterations=2000 \
  --json "${SOLVERHUB_OUT:-out}/compare.json"
echo "results: ${SOLVERHUB_OUT:-out}/compare.json"
