#!/usr/bin/env bash
# The trainers' own environment for tests/trainers: verl, TRL and OpenRLHF at the versions
# the adapters are tested against, with a CPU-only torch and misalign-rewards installed
# editable, in .venv-trainers (separate from .venv: the trainers pin their own
# transformers, numpy and ray). Idempotent: a stamp of this script and pyproject.toml
# skips the install when nothing changed. Prints the environment's python on stdout.
#
# What is not installed, and why (all of it is GPU-only or training-engine code the
# reward path never imports):
#   - torch's nvidia-* CUDA libraries: a CPU build of torch is used (PyPI's default
#     torch wheel pulls ~3 GB of them); TORCH_SPEC overrides the requirement.
#   - OpenRLHF is installed with --no-deps: it pins deepspeed, flash-attn (a CUDA
#     build), bitsandbytes and transformers==5.15 (which verl 0.9.1 refuses); only its
#     remote-reward client (openrlhf.utils.agent) is used, whose imports are added here.
#   - vllm, sglang, megatron, flash-attn for verl: not dependencies of verl's wheel; the
#     reward managers do not import them.
#
# env: PYTHON (default python3, >= 3.11), TRAINERS_VENV (default .venv-trainers).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
say() { printf 'trainers: %s\n' "$*" >&2; }

PYTHON=${PYTHON:-python3}
venv=${TRAINERS_VENV:-.venv-trainers}
VERL=0.9.1 TRL=1.16.0 OPENRLHF=0.11.2
TORCH_SPEC=${TORCH_SPEC:-torch}
stamp=$venv/.installed-$(cat "$0" pyproject.toml | sha256sum | cut -c1-16)
if [[ ! -f "$stamp" ]]; then
  say "installing verl $VERL, TRL $TRL, OpenRLHF $OPENRLHF (CPU torch) into $venv"
  [[ -x $venv/bin/python ]] || "$PYTHON" -m venv "$venv"
  pip=("$venv/bin/python" -m pip install --quiet --disable-pip-version-check)
  # A CPU torch: a +cpu wheel when the machine holds one (TORCH_WHEELS, default
  # /opt/wheels), else PyTorch's CPU index, else PyPI's default build.
  cpu_wheel=$(ls "${TORCH_WHEELS:-/opt/wheels}"/torch-*+cpu-*.whl 2>/dev/null | sort -V | tail -1 || true)
  if [[ -n "$cpu_wheel" ]]; then
    "${pip[@]}" "$cpu_wheel"
  else
    "${pip[@]}" --index-url https://download.pytorch.org/whl/cpu "$TORCH_SPEC" || "${pip[@]}" "$TORCH_SPEC"
  fi
  "${pip[@]}" "verl==$VERL" "trl==$TRL" pytest pytest-asyncio
  "${pip[@]}" --no-deps "openrlhf==$OPENRLHF"
  "${pip[@]}" aiohttp sympy pylatexenc
  "${pip[@]}" -e '.[test,server]'
  rm -f "$venv"/.installed-* && touch "$stamp"
fi
echo "$(cd "$venv" && pwd)/bin/python"
