"""The pytest process of ``inprocess`` mode, its untrusted end (isolated mode's is
:mod:`isolated_child`): a fork of the zygote's ``pytest`` flavour, already the untrusted
uid. It imports the solution, so nothing it says is trusted beyond being advisory; it
streams one JSON record per line to the pipe on ``record_fd`` that the trusted parent
reads (see :mod:`inprocess`). Its stdout and stderr are another pipe the parent reads and
caps.

Stdlib + pytest only; runs inside the sandbox image.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import pytest

from . import collect


def main(config: dict[str, Any], record_fd: int) -> int:
    # fd 4 is the output pipe: pytest's and the solution's prints go there.
    os.dup2(4, 1)
    os.dup2(4, 2)
    os.close(4)
    os.set_inheritable(record_fd, False)
    sys.dont_write_bytecode = True
    sys.path.append(config["solution_dir"])  # last: solution files never shadow stdlib

    def emit(kind: str, value: Any) -> None:
        data = json.dumps([kind, value], separators=(",", ":")).encode() + b"\n"
        view = memoryview(data)
        while view:
            view = view[os.write(record_fd, view) :]

    recorder = collect.Recorder(emit=emit)
    args = collect.pytest_args(tests_dir=config["tests_dir"], ini_path=config["ini_path"],
                               test_files=list(config["test_files"]))
    return int(pytest.main(args, plugins=[recorder]))
