#!/usr/bin/env bash
# Make a local stand-in for python:3.11-slim without any container registry:
# debootstrap Debian bookworm (whose python3 is 3.11) and `docker import` it.
#
# usage: containers/offline-base.sh [IMAGE_NAME]
#   IMAGE_NAME  default: misalign-rewards/python-base:3.11-bookworm
# env:
#   DEBIAN_MIRROR  default: the first Debian URI in /etc/apt/sources.list(.d), else deb.debian.org
#   FORCE=1        rebuild even if IMAGE_NAME exists
#
# The image has python3 (3.11), python3-venv and ca-certificates. It has no pip of its
# own on PATH: Dockerfile.python-sandbox makes a venv and installs wheels into it.
set -euo pipefail

IMAGE=${1:-misalign-rewards/python-base:3.11-bookworm}
say() { printf 'offline-base: %s\n' "$*" >&2; }

if [[ "${FORCE:-0}" != 1 ]] && docker image inspect "$IMAGE" >/dev/null 2>&1; then
  say "$IMAGE exists; FORCE=1 rebuilds it"
  exit 0
fi
if [[ $(id -u) -ne 0 ]]; then
  say "debootstrap needs root; run as root or pull python:3.11-slim instead"
  exit 1
fi
if ! command -v debootstrap >/dev/null 2>&1; then
  command -v apt-get >/dev/null 2>&1 || { say "no debootstrap and no apt-get"; exit 1; }
  say "installing debootstrap"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null 2>&1 ||
    { apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null; }
fi

mirror=${DEBIAN_MIRROR:-}
if [[ -z "$mirror" ]]; then
  mirror=$(grep -hsE '^(URIs:|deb )' /etc/apt/sources.list /etc/apt/sources.list.d/*.sources \
             /etc/apt/sources.list.d/*.list 2>/dev/null |
           grep -oE 'https?://[^ ]*/debian/?' | grep -v security | head -n 1 || true)
fi
mirror=${mirror:-http://deb.debian.org/debian}

rootfs=$(mktemp -d /tmp/misalign-rootfs.XXXXXX)
trap 'rm -rf "$rootfs"' EXIT
say "debootstrap bookworm from $mirror (about a minute)"
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
  bookworm "$rootfs" "$mirror" >"$rootfs.log" 2>&1 ||
  { say "debootstrap failed; last lines:"; tail -n 20 "$rootfs.log" >&2; exit 1; }
rm -f "$rootfs.log"
# Same trimming the slim images do: no apt lists, docs or caches in the layer.
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/usr/share/doc/* \
       "$rootfs"/usr/share/man/* "$rootfs"/usr/share/locale/*
tar -C "$rootfs" -c . | docker import \
  --change 'ENV LANG=C.UTF-8' \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'CMD ["python3"]' \
  - "$IMAGE" >/dev/null
say "made $IMAGE ($(docker run --rm "$IMAGE" python3 --version))"
