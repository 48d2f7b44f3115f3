#!/usr/bin/env bash
# Install everything plus the dev tools, then run the test suite (slow tests excluded;
# run them with: python3 -m pytest -m slow).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh dev
python3 -m pytest -q -p no:cacheprovider "$@"
