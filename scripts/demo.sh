#!/usr/bin/env bash
# The main job on embedded defaults: stream the bundled demo recording through the pipeline, no service needed.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh capture
exec "${PYTHON:-python3}" -m detector run -c config/demo.yaml --source demo/scene.wav --realtime \
    --features-out out/demo-features.npy "$@"
