"""The trusted harness: project code that runs *inside* the sandbox for pytest jobs.

It is delivered with every run as files (see :func:`bundle`), not baked into the image:
changing the harness needs no image rebuild, and the code that judges a run is always
the code of the installed SDK version. The cost is a few tens of kilobytes written to the
container's tmpfs per run, and that the image only has to provide Python 3.11 and pytest.

Inside the container the modules form the package :data:`PACKAGE` under
``<workdir>/harness/``; they use only the standard library and pytest. This ``__init__``
is SDK-side and is not shipped.

    main              entry: non-dumpable, key from stdin, the job run, sealed report
    schema            every dict that crosses a process boundary (also used SDK-side)
    seal              the HMAC that makes a report the harness's (also used SDK-side)
    layout            owners and modes of the job's folders
    privileges        the untrusted uid, the trusted side's capabilities
    processes         the untrusted uid's processes: scans, counts, kills
    wipe              what the untrusted uid made, removed between cases and jobs
    zygote            the trusted process that starts untrusted ones; the harness's handle on it
    isolated          pytest in the trusted process; the solution in untrusted processes
    proxy             the trusted end of the pipe: processes, requests, callbacks
    handles           the trusted stand-ins for the solution's objects and classes
    isolated_child    the solution's end of the pipe (isolated mode's untrusted processes)
    wire              tagged JSON for values and exceptions that cross the pipe
    inprocess         trusted parent of a hardened, advisory in-process pytest run
    inprocess_child   that pytest process (inprocess mode's untrusted process)
    collect           the recording pytest plugin and the hardened pytest arguments
    supervisor        a warm container's trusted loop: a forked worker per job, then the wipe
    program           an io job's program on one stdin case, as the untrusted uid
    cases             an io job's comparisons and checker, in trusted code
    case_loop         an io job's cases judged in a loop of the harness's own, not a pytest session

Imports run one way (tests/test_imports.py): ``schema`` and ``seal`` import no
sibling; ``privileges`` only ``schema``; ``layout``, ``processes`` and ``wipe`` only those
two; ``zygote`` those and the untrusted ends it starts (``isolated_child``, ``wire``); the
modes and the entry points (``main``, ``supervisor``) sit above. A sibling imported inside
a function is imported there for a forked process's sake (what it must not hold, or need
not load), with a comment saying so.
"""

from __future__ import annotations

import functools
from importlib import resources

#: Package name of the harness inside the container.
PACKAGE = "misalign_harness"
#: The modules shipped with each run.
MODULES = ("main", "schema", "seal", "layout", "privileges", "processes", "wipe", "zygote", "isolated",
           "proxy", "handles", "isolated_child", "wire", "inprocess", "inprocess_child", "collect",
           "supervisor", "program", "cases", "case_loop")


#: Where the harness's Python processes look for bytecode (``-X pycache_prefix``). The
#: python-sandbox image compiles its standard library and site-packages there at build
#: time, on the read-only root: nothing can be planted in it (P14), and pytest does not
#: recompile per run. Files under the tmpfs (tests, solution) have no bytecode there and
#: are compiled in memory. An image without the folder still works, only slower.
PYCACHE_PREFIX = "/opt/pycache"

#: The trusted ini given with ``-c``; nothing the solution writes is read as config.
TRUSTED_INI = """\
[pytest]
addopts =
python_files = test_*.py *_test.py
python_classes = Test
python_functions = test
xfail_strict = false
"""


def bundle() -> dict[str, bytes]:
    """The harness as files, relative to the harness folder: ``misalign_harness/*.py``
    plus the trusted ``pytest.ini``. Read once per process; each call gets its own dict."""
    return dict(_bundle())


@functools.cache
def _bundle() -> dict[str, bytes]:
    root = resources.files(__name__)
    files = {f"{PACKAGE}/__init__.py": b'"""Trusted harness of misalign-rewards (shipped per run)."""\n'}
    for name in MODULES:
        files[f"{PACKAGE}/{name}.py"] = root.joinpath(f"{name}.py").read_bytes()
    files["pytest.ini"] = TRUSTED_INI.encode()
    return files


def launch_program(harness_dir: str) -> str:
    """The ``python -I -c`` program that starts the harness from ``harness_dir``."""
    return (
        "import sys\n"
        f"sys.path.insert(0, {harness_dir!r})\n"
        f"from {PACKAGE} import main as _m\n"
        # Off the path at once: nothing else is ever imported from the job's folders.
        f"sys.path.remove({harness_dir!r})\n"
        "sys.exit(_m.main())\n"
    )


def supervisor_program(harness_dir: str, workdir: str, idle_s: float) -> str:
    """The ``python -I -c`` program that starts a warm container's supervisor."""
    return (
        "import sys\n"
        f"sys.path.insert(0, {harness_dir!r})\n"
        f"from {PACKAGE} import supervisor as _s\n"
        f"sys.path.remove({harness_dir!r})\n"
        f"sys.exit(_s.main({workdir!r}, {harness_dir!r}, {float(idle_s)!r}))\n"
    )


__all__ = ["MODULES", "PACKAGE", "PYCACHE_PREFIX", "TRUSTED_INI", "bundle", "launch_program",
           "supervisor_program"]
