#!/usr/bin/env bash
# The main job, end to end on embedded defaults: install everything, then compare
# the builtins, the paper plugins and the cvxpy baseline on the shipped problem
# sets (resumable SQLite store, local worker processes) and write the HTML report.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${SOLVERHUB_OUT:-out}
bash scripts/install.sh
solverhub plugins
solverhub compare problems/smooth problems/constrained problems/stochastic \
  --option max_iterations=2000 --jobs 2 --store "$OUT/runs.sqlite" --report "$OUT/report" --json "$OUT/compare.json"
echo
echo "HTML report: open $OUT/report/index.html in a browser (runs are kept in $OUT/runs.sqlite;"
echo "re-running this script resumes and only runs what is missing)."
