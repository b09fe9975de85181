#!/usr/bin/env bash
# Install everything the tests need (system packages too), then run the test suite. Extra args go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh capture,train,dev
exec "${PYTHON:-python3}" -m pytest -q "$@"
