#!/usr/bin/env bash
# The project's test command (README; .ci/run calls it): set up (engine, .venv, image),
# run the static checks (scripts/check.sh: ruff, mypy), then the whole suite against the
# real engine. Extra arguments go to pytest.
# Docker-marked tests fail rather than skip when CI=true. tests/test_trainers.py installs
# the trainers' own environment (scripts/trainers.sh, .venv-trainers) on first use.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$root/scripts/setup.sh"
"$root/scripts/check.sh"
cd "$root"
exec .venv/bin/python -m pytest "$@"
