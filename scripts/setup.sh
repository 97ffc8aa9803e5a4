#!/usr/bin/env bash
# Prepare this checkout: a Docker engine that answers (scripts/engine.sh), a virtual
# environment in .venv with the package and its test dependencies, and the
# python-sandbox image (built with containers/build_and_push.sh when missing, or when its
# recipe, the Dockerfile and pinned requirements, changed since it was built).
# Idempotent: each step is skipped when its result is already there.
#
# env: PYTHON (default python3, must be >= 3.11), REGISTRY (image prefix, as the build
#      script), FORCE_IMAGE=1 to rebuild the image even when it is current.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
say() { printf 'setup: %s\n' "$*" >&2; }

"$root/scripts/engine.sh"

PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  say "need Python >= 3.11 as \$PYTHON (got: $("$PYTHON" --version 2>&1 || echo none))"
  exit 1
fi
stamp=.venv/.installed-$(cat pyproject.toml | sha256sum | cut -c1-16)
if [[ ! -f "$stamp" ]]; then
  say "creating .venv and installing misalign-rewards[test]"
  [[ -x .venv/bin/python ]] || "$PYTHON" -m venv .venv
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
  rm -f .venv/.installed-* && touch "$stamp"
fi

registry=${REGISTRY:-ghcr.io/your-org/misalign-fv}
image=${MISALIGN_PYTHON_IMAGE:-${registry%/}/python-sandbox:latest}
want=$("$root/containers/build_and_push.sh" --recipe-hash)
have=$(docker image inspect --format '{{index .Config.Labels "io.misalign-rewards.recipe"}}' "$image" 2>/dev/null || true)
if [[ "${FORCE_IMAGE:-0}" == 1 || "$have" != "$want" ]]; then
  say "building $image (${have:+recipe changed: $have -> $want}${have:-not present})"
  "$root/containers/build_and_push.sh" --build-only --only python-sandbox
else
  say "image $image is present and current (FORCE_IMAGE=1 rebuilds it)"
fi
