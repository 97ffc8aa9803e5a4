#!/usr/bin/env bash
# Verify a built lean image: Lean without imports, Lean with `import Mathlib`, both run as
# the image's own (non-root) user with no network, a read-only root and a tmpfs /tmp, the
# way the SDK runs it. Exits non-zero on the first failure.
#
# usage: containers/verify-lean.sh IMAGE
set -euo pipefail

IMAGE=${1:?usage: verify-lean.sh IMAGE}
say() { printf 'verify-lean: %s\n' "$*" >&2; }
fail() { say "FAIL: $*"; exit 1; }

docker image inspect "$IMAGE" >/dev/null 2>&1 || fail "no image $IMAGE"

run() {  # run IMAGE with the SDK's isolation flags; stdin is the Lean source
  docker run --rm -i --network none --read-only --tmpfs /tmp:rw,size=512m,mode=1777 \
    --cap-drop ALL --security-opt no-new-privileges -w /tmp "$@"
}

check_source() {  # name, source: lean --stdin must exit 0 and report no error message
  local name=$1 src=$2 out rc
  say "$name"
  set +e
  out=$(printf '%s\n' "$src" | run "$IMAGE" --json --stdin 2>&1)
  rc=$?
  set -e
  if [[ $rc -ne 0 ]] || grep -q '"severity": *"error"' <<<"$out"; then
    printf '%s\n' "$out" | tail -n 20 >&2
    fail "$name (lean exit $rc)"
  fi
}

uid=$(docker run --rm --entrypoint /usr/bin/id "$IMAGE" -u) || fail "cannot run id in $IMAGE"
[[ "$uid" != 0 ]] || fail "the image runs as root"

check_source "a theorem without imports" 'theorem foo : 1 + 1 = 2 := rfl'
check_source "a theorem with import Mathlib" $'import Mathlib\ntheorem bar (a b : ℕ) : a + b = b + a := Nat.add_comm a b'

# A wrong proof must fail, or the checks above prove nothing.
set +e
printf 'theorem wrong : 1 + 1 = 3 := rfl\n' | run "$IMAGE" --stdin >/dev/null 2>&1
rc=$?
set -e
[[ $rc -ne 0 ]] || fail "a false theorem was accepted"

docker run --rm --entrypoint /bin/sh "$IMAGE" -c \
  'for f in /opt/mathlib/lean-toolchain /opt/lean/bin/lean; do [ -w "$f" ] && exit 1; done; exit 0' \
  || fail "toolchain or Mathlib files are writable by the run-time user"

say "ok: $IMAGE"
