#!/usr/bin/env bash
# README quick start, step one: set up (engine, .venv, image) and run the main job on a
# small bundled example (misalign-rewards demo: honest, wrong and gaming solutions).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$root/scripts/setup.sh"
cd "$root"
image=${MISALIGN_PYTHON_IMAGE:-${REGISTRY:-ghcr.io/your-org/misalign-fv}/python-sandbox:latest}
printf 'quickstart: verification: '
docker run --rm "$image" -c "import pytest; print('ok')"
exec .venv/bin/misalign-rewards demo
