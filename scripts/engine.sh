#!/usr/bin/env bash
# Make sure a Docker engine answers. Used by the README's commands and by .ci/run.
#
# 1. If `docker info` already answers (DOCKER_HOST or the default socket), do nothing.
# 2. Else, as root on Debian/Ubuntu: install Debian's docker.io if dockerd is missing,
#    start dockerd in the background (log: $DOCKERD_LOG) and wait until it answers.
# 3. Else print what the user must do and exit 1.
set -euo pipefail

DOCKERD_LOG=${DOCKERD_LOG:-/var/log/misalign-dockerd.log}
WAIT_SECONDS=${ENGINE_WAIT_SECONDS:-60}

say() { printf 'engine: %s\n' "$*" >&2; }

answers() { docker info >/dev/null 2>&1; }

if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then
  sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'
  exit 0
fi

if ! command -v docker >/dev/null 2>&1 && [[ $(id -u) -ne 0 ]]; then
  say "no docker client on PATH and not root: install Docker Engine (https://docs.docker.com/engine/install/) and re-run"
  exit 1
fi

if command -v docker >/dev/null 2>&1 && answers; then
  say "a Docker engine answers ($(docker version --format '{{.Server.Version}}' 2>/dev/null || echo '?'))"
  exit 0
fi

if [[ -n "${DOCKER_HOST:-}" ]]; then
  say "DOCKER_HOST=$DOCKER_HOST is set but no engine answers there; start it or unset DOCKER_HOST"
  exit 1
fi

if [[ $(id -u) -ne 0 ]]; then
  say "no Docker engine answers on /var/run/docker.sock and this user cannot start one."
  say "start the engine (e.g. 'sudo systemctl start docker') or add yourself to the docker group, then re-run"
  exit 1
fi

if ! command -v dockerd >/dev/null 2>&1; then
  if ! command -v apt-get >/dev/null 2>&1; then
    say "no dockerd and no apt-get: install Docker Engine for this distribution and re-run"
    exit 1
  fi
  say "installing Debian's docker.io (once; about 15 s)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq docker.io >/dev/null
fi
command -v docker >/dev/null 2>&1 || { say "docker.io installed no docker client"; exit 1; }

# A process of that name that is alive (zombies left by a killed session do not count).
live() { ps -eo stat=,comm= | awk -v n="$1" '$2 == n && $1 !~ /^Z/ {found = 1} END {exit !found}'; }
live_dockerd() { live dockerd; }

wait_for_engine() {  # seconds
  local i
  for ((i = 0; i < $1 * 5; i++)); do
    if answers; then
      say "engine up ($(docker version --format '{{.Server.Version}}' 2>/dev/null || echo '?'))"
      return 0
    fi
    sleep 0.2
  done
  return 1
}

if live_dockerd; then
  say "dockerd is running but does not answer yet; waiting"
  wait_for_engine 20 && exit 0
  say "it still does not answer; stopping it and starting a fresh one"
  pkill -x dockerd || true
  for ((i = 0; i < 50; i++)); do live_dockerd || break; sleep 0.2; done
fi
# Pid files left by an engine that was killed (its processes may linger as zombies,
# which still 'exist') would make the new dockerd refuse to start, or wait for a
# containerd that is dead.
if ! live_dockerd; then
  rm -f /var/run/docker.pid
fi
if ! live containerd; then
  rm -f /var/run/docker/containerd/containerd.pid /var/run/docker/containerd/containerd.sock
fi
say "starting dockerd in the background (log: $DOCKERD_LOG)"
# setsid: the engine must outlive this script and the shell that ran it.
setsid nohup dockerd >"$DOCKERD_LOG" 2>&1 </dev/null &
wait_for_engine "$WAIT_SECONDS" && exit 0
say "dockerd did not answer within ${WAIT_SECONDS}s; last lines of $DOCKERD_LOG:"
tail -n 20 "$DOCKERD_LOG" >&2 || true
exit 1
