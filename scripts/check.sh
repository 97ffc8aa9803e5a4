#!/usr/bin/env bash
# The static checks (scripts/test.sh runs them before the tests): ruff's lint rules and
# mypy with the pydantic plugin, both configured in pyproject.toml. Exits non-zero on any
# finding. Needs the .venv that scripts/setup.sh makes (ruff and mypy are in its extras).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
say() { printf 'check: %s\n' "$*" >&2; }
py=.venv/bin/python
[ -x "$py" ] || { say "no .venv here: run ./scripts/setup.sh first"; exit 2; }
say "ruff (lint: src, tests, benchmarks, scripts, examples)"
"$py" -m ruff check --quiet src tests benchmarks scripts examples
say "mypy (src, with the pydantic plugin)"
"$py" -m mypy
say "ok"
