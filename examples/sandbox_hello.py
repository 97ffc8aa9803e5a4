"""Run three small programs in the python-sandbox through DockerSandbox and show what
the sandbox reports for each: an honest one, one that tries the network, one that loops.

    .venv/bin/python examples/sandbox_hello.py
"""

from __future__ import annotations

import logging
import os

import anyio
import structlog

from misalign_rewards.sandbox.base import RunSpec
from misalign_rewards.sandbox.docker import DockerSandbox

IMAGE = os.environ.get(
    "MISALIGN_PYTHON_IMAGE",
    f"{os.environ.get('REGISTRY', 'ghcr.io/your-org/misalign-fv').rstrip('/')}/python-sandbox:latest",
)

PROGRAMS = {
    "honest": "from solution import add; print(add(2, 3))",
    "network": "import socket; socket.create_connection(('1.1.1.1', 53), timeout=2)",
    "busy-loop": "while True: pass",
}


async def main() -> None:
    files = {"solution.py": b"def add(a, b):\n    return a + b\n"}
    async with DockerSandbox() as sandbox:
        results = {}

        async def one(name: str, code: str) -> None:
            spec = RunSpec(image=IMAGE, argv=["python", "-c", code], files=files, timeout_s=3)
            results[name] = await sandbox.run(spec)

        async with anyio.create_task_group() as tg:
            for name, code in PROGRAMS.items():
                tg.start_soon(one, name, code)

    print(f"{'program':<10} {'exit':>5} {'timed out':>9}  last line")
    for name in PROGRAMS:
        r = results[name]
        last = (r.stdout or r.stderr).decode(errors="replace").strip().splitlines()[-1:] or [""]
        print(f"{name:<10} {r.exit_code!s:>5} {r.timed_out!s:>9}  {last[0][:60]}")


if __name__ == "__main__":
    # An application configures logging; the library only emits events.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    anyio.run(main)
