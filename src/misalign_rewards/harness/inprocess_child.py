"""The pytest process of ``inprocess`` mode. It imports the solution, so nothing it says
is trusted beyond being advisory; it streams one JSON record per line to a pipe the
trusted parent reads (see :mod:`inprocess`).

Stdlib + pytest only; runs inside the sandbox image.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any


def main(config_json: str) -> int:
    config = json.loads(config_json)
    fd = int(config["record_fd"])
    os.set_inheritable(fd, False)
    sys.dont_write_bytecode = True
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    sys.path.append(config["solution_dir"])  # last: solution files never shadow stdlib

    from . import collect

    def emit(kind: str, value: Any) -> None:
        data = json.dumps([kind, value], separators=(",", ":")).encode() + b"\n"
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]

    recorder = collect.Recorder(emit=emit)
    args = collect.pytest_args(tests_dir=config["tests_dir"], ini_path=config["ini_path"],
                               test_files=list(config["test_files"]))
    import pytest

    return int(pytest.main(args, plugins=[recorder]))
