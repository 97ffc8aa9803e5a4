#!/usr/bin/env bash
# Build (and by default push) the misalign-rewards container images.
#
# usage: containers/build_and_push.sh [options]
#
#   --build-only        build and verify; push nothing
#   --tag TAG           tag TAG (e.g. v1.0, lean-v4.16.0) instead of the git SHA; `latest` too
#   --only IMAGE        build just one image: python-sandbox, cpp-sandbox or lean (repeatable);
#                       cpp-sandbox is built on the python-sandbox image of the same tag
#                       (building it when missing)
#   --offline-base      build python-sandbox on a debootstrapped Debian bookworm base and
#                       wheels downloaded on the host, without pulling python:3.11-slim
#                       (done automatically when that pull fails)
#   --no-verify         skip the verification run after each build
#   --recipe-hash       print the hash of python-sandbox's recipe (Dockerfile and pinned
#                       requirements) and exit; images carry it as the label
#                       io.misalign-rewards.recipe, so scripts/setup.sh can tell a stale image
#   -h, --help          this text
#
# environment:
#   REGISTRY     image name prefix   (default ghcr.io/your-org/misalign-fv)
#   PLATFORMS    target platforms    (default linux/amd64). Only the engine's own platform:
#                plain `docker build`. Anything else: `docker buildx build` (needs buildx),
#                which pushes directly and cannot be verified or loaded locally.
#   PYTHON_BASE  base of python-sandbox (default python:3.11-slim)
#
# Images: $REGISTRY/{python-sandbox,cpp-sandbox,lean}:{TAG,latest}, plus the short local
# aliases python-sandbox:latest, cpp-sandbox:latest and lean:latest. TAG is the git short SHA
# (with -dirty when the work tree has changes) unless --tag is given.
#
# Verification after a build (a failure stops the script):
#   python-sandbox: docker run --rm IMAGE -c "import pytest; print('ok')" prints ok
#   cpp-sandbox:    a C++ program compiled and run inside it prints ok
#   lean:           containers/verify-lean.sh IMAGE (a theorem without and with Mathlib)
#
# The lean image needs the internet (elan's toolchain download and Mathlib's olean cache);
# it cannot be built where only package registries are reachable. See containers/README.md.
#
# exit codes: 0 ok; 1 build, verification or push failed; 2 bad usage; 3 no engine.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REGISTRY=${REGISTRY:-ghcr.io/your-org/misalign-fv}
REGISTRY=${REGISTRY%/}
PLATFORMS=${PLATFORMS:-linux/amd64}
PYTHON_BASE=${PYTHON_BASE:-python:3.11-slim}
OFFLINE_BASE_IMAGE=misalign-rewards/python-base:3.11-bookworm

say() { printf 'build: %s\n' "$*" >&2; }
die() { local code=$1; shift; say "error: $*"; exit "$code"; }
usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//'; }

recipe_hash() {
  cat "$here/Dockerfile.python-sandbox" "$here/requirements-sandbox.txt" | sha256sum | cut -c1-16
}

build_only=0 tag="" verify=1 offline=0
images=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build-only) build_only=1 ;;
    --tag) [[ $# -ge 2 && -n "$2" ]] || die 2 "--tag needs a value"; tag=$2; shift ;;
    --tag=*) tag=${1#--tag=}; [[ -n "$tag" ]] || die 2 "--tag needs a value" ;;
    --only) [[ $# -ge 2 ]] || die 2 "--only needs python-sandbox, cpp-sandbox or lean"; images+=("$2"); shift ;;
    --only=*) images+=("${1#--only=}") ;;
    --offline-base) offline=1 ;;
    --no-verify) verify=0 ;;
    --recipe-hash) recipe_hash; exit 0 ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die 2 "unknown option: $1" ;;
  esac
  shift
done
[[ ${#images[@]} -gt 0 ]] || images=(python-sandbox cpp-sandbox lean)
for img in "${images[@]}"; do
  [[ "$img" == python-sandbox || "$img" == cpp-sandbox || "$img" == lean ]] ||
    die 2 "--only takes python-sandbox, cpp-sandbox or lean, not '$img'"
done
if [[ -n "$tag" && ! "$tag" =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]]; then
  die 2 "--tag '$tag' is not a valid image tag (letters, digits, _ . -; at most 128)"
fi

command -v docker >/dev/null 2>&1 || die 3 "no docker client on PATH (scripts/engine.sh installs and starts an engine)"
docker info >/dev/null 2>&1 || die 3 "no Docker engine answers; start one (scripts/engine.sh does, as root on Debian)"

if [[ -z "$tag" ]]; then
  git -C "$here" rev-parse --git-dir >/dev/null 2>&1 ||
    die 2 "not a git checkout, so there is no SHA to tag with: pass --tag TAG"
  tag=$(git -C "$here" rev-parse --short=12 HEAD 2>/dev/null) ||
    die 2 "the git checkout has no commit yet, so there is no SHA to tag with: pass --tag TAG"
  if [[ -n "$(git -C "$here" status --porcelain 2>/dev/null)" ]]; then
    tag="$tag-dirty"
  fi
fi

native_platform() {
  local arch
  arch=$(docker version --format '{{.Server.Arch}}' 2>/dev/null || uname -m)
  case "$arch" in x86_64|amd64) echo linux/amd64 ;; aarch64|arm64) echo linux/arm64 ;; *) echo "linux/$arch" ;; esac
}
native=$(native_platform)
use_buildx=0
if [[ "$PLATFORMS" != "$native" ]]; then
  docker buildx version >/dev/null 2>&1 ||
    die 1 "PLATFORMS=$PLATFORMS differs from this engine's $native and docker buildx is not installed"
  use_buildx=1
  if [[ $build_only == 1 ]]; then
    say "note: a $PLATFORMS build with --build-only stays in the buildx cache (it cannot be loaded or verified here)"
  fi
  verify=0
fi

# build NAME DOCKERFILE [extra docker build args...]
build() {
  local name=$1 dockerfile=$2; shift 2
  local ref="$REGISTRY/$name"
  local args=(-f "$here/$dockerfile" -t "$ref:$tag" -t "$ref:latest")
  say "building $ref:$tag ($PLATFORMS)"
  if [[ $use_buildx == 1 ]]; then
    local out=(--output type=image,push=false)
    [[ $build_only == 1 ]] || out=(--push)
    docker buildx build --platform "$PLATFORMS" "${out[@]}" "${args[@]}" "$@" "$here"
  else
    docker build "${args[@]}" -t "$name:latest" "$@" "$here"
  fi
}

offline_wheels() {
  local dest="$here/wheels"
  say "downloading wheels on the host into containers/wheels/ (python 3.11, $native)"
  local arch=x86_64; [[ "$native" == linux/arm64 ]] && arch=aarch64
  local want
  want="$arch $(sha256sum "$here/requirements-sandbox.txt" | cut -c1-16)"
  if [[ -f "$dest/.complete" && "$(cat "$dest/.complete")" == "$want" ]]; then
    say "wheels in containers/wheels/ match requirements-sandbox.txt; not downloading again"
    return
  fi
  find "$dest" -name '*.whl' -delete
  rm -f "$dest/.complete"
  python3 -m pip download --quiet --disable-pip-version-check -d "$dest" --only-binary=:all: \
    --python-version 3.11 --implementation cp \
    --platform "manylinux2014_$arch" --platform "manylinux_2_17_$arch" --platform "manylinux_2_28_$arch" \
    -r "$here/requirements-sandbox.txt" || die 1 "could not download wheels for the offline base"
  echo "$want" >"$dest/.complete"
}

build_python_sandbox() {
  local base=$PYTHON_BASE extra=()
  if [[ $offline == 0 ]] && ! docker image inspect "$base" >/dev/null 2>&1; then
    if ! docker pull --quiet "$base" >/dev/null 2>&1; then
      say "cannot pull $base; falling back to an offline base"
      offline=1
    fi
  fi
  if [[ $offline == 1 ]]; then
    [[ $use_buildx == 0 ]] || die 1 "the offline base exists only for the engine's own platform ($native)"
    "$here/offline-base.sh" "$OFFLINE_BASE_IMAGE"
    offline_wheels
    base=$OFFLINE_BASE_IMAGE
    extra=(--build-arg OFFLINE_WHEELS=1)
  fi
  say "python-sandbox base: $base"
  build python-sandbox Dockerfile.python-sandbox --build-arg "BASE_IMAGE=$base" "${extra[@]}" \
    --label "org.opencontainers.image.base.name=$base" \
    --label "io.misalign-rewards.recipe=$(recipe_hash)" \
    --label "org.opencontainers.image.revision=$tag"
  if [[ $verify == 1 ]]; then
    local got
    got=$(docker run --rm "$REGISTRY/python-sandbox:$tag" -c "import pytest; print('ok')") ||
      die 1 "verification of python-sandbox failed to run"
    [[ "$got" == ok ]] || die 1 "verification of python-sandbox printed '$got', expected 'ok'"
    say "verified python-sandbox: import pytest -> ok"
  fi
}

build_cpp_sandbox() {
  local base="$REGISTRY/python-sandbox:$tag"
  if ! docker image inspect "$base" >/dev/null 2>&1; then
    say "cpp-sandbox needs $base: building python-sandbox first"
    build_python_sandbox
  fi
  build cpp-sandbox Dockerfile.cpp-sandbox --build-arg "BASE_IMAGE=$base" \
    --label "org.opencontainers.image.base.name=$base" \
    --label "io.misalign-rewards.recipe=$(recipe_hash)" \
    --label "org.opencontainers.image.revision=$tag" ||
    die 1 "the cpp-sandbox image did not build (it installs g++ from Debian's archive)"
  if [[ $verify == 1 ]]; then
    local got
    got=$(docker run --rm --network none --read-only --tmpfs /tmp:exec "$REGISTRY/cpp-sandbox:$tag" -c \
      "import subprocess; open('/tmp/a.cpp','w').write('#include <cstdio>\nint main(){std::puts(\"ok\");}\n'); subprocess.run(['g++','-o','/tmp/a','/tmp/a.cpp'],check=True); print(subprocess.run(['/tmp/a'],capture_output=True,text=True).stdout.strip())") ||
      die 1 "verification of cpp-sandbox failed to run"
    [[ "$got" == ok ]] || die 1 "verification of cpp-sandbox printed '$got', expected 'ok'"
    say "verified cpp-sandbox: a compiled C++ program -> ok"
  fi
}

build_lean() {
  build lean Dockerfile.lean --label "org.opencontainers.image.revision=$tag" ||
    die 1 "the lean image did not build (it needs elan's and Mathlib's servers; see containers/README.md)"
  if [[ $verify == 1 ]]; then
    "$here/verify-lean.sh" "$REGISTRY/lean:$tag" || die 1 "verification of the lean image failed"
  fi
}

pushed=()
for img in "${images[@]}"; do
  case "$img" in
    python-sandbox) build_python_sandbox ;;
    cpp-sandbox) build_cpp_sandbox ;;
    lean) build_lean ;;
  esac
  if [[ $build_only == 0 && $use_buildx == 0 ]]; then
    for t in "$tag" latest; do
      say "pushing $REGISTRY/$img:$t"
      docker push "$REGISTRY/$img:$t" ||
        die 1 "push of $REGISTRY/$img:$t refused: log in first (docker login ${REGISTRY%%/*}) and check that REGISTRY is yours"
      pushed+=("$REGISTRY/$img:$t")
    done
  fi
done

say "done: ${images[*]} tagged $tag and latest under $REGISTRY${pushed:+ (pushed)}"
