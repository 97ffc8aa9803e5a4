"""What one container is made of: the engine's create body for a :class:`RunSpec` (the
seed's flags and more; docs/sandbox.md), the boot line it starts with, and the tar of
the run's files it unpacks.

Files reach the container through stdin: a tar archive that a tiny ``/bin/sh`` boot line
unpacks under ``spec.workdir`` before ``exec``-ing the command (``put_archive`` cannot
reach a tmpfs in a read-only container; see docs/sandbox.md). The image therefore needs
``/bin/sh``, ``head`` and ``tar``, as Debian and Ubuntu bases have.

Pure functions of the spec: nothing here talks to the engine.
"""

from __future__ import annotations

import io
import tarfile
from typing import Any

from .base import RunSpec
from .labels import LABEL_UID
from .uids import UID_ENV

# $1: bytes of tar on stdin, $2: where to unpack, the rest: the command. `head -c` never
# reads past its count, so whatever follows the archive on stdin reaches the command.
BOOT = (
    'n=$1; d=$2; shift 2; '
    'mkdir -p "$d" || { echo "misalign-boot: cannot create $d" >&2; exit 125; }; '
    'if [ "$n" -gt 0 ]; then head -c "$n" | tar -x -o -C "$d" -f - '
    '|| { echo "misalign-boot: cannot unpack files" >&2; exit 125; }; fi; '
    'cd "$d" && exec "$@"'
)
#: The exit status of a boot line that could not set up the work dir.
BOOT_FAILURE_EXIT = 125


def make_tar(files: dict[str, bytes]) -> bytes:
    """An uncompressed tar of ``files`` (paths relative to the work dir), read-only modes
    for nothing: the sandbox user owns what it unpacks."""
    if not files:
        return b""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        dirs: set[str] = set()
        for path in sorted(files):
            parts = path.split("/")[:-1]
            for i in range(1, len(parts) + 1):
                d = "/".join(parts[:i])
                if d not in dirs:
                    dirs.add(d)
                    info = tarfile.TarInfo(d)
                    info.type = tarfile.DIRTYPE
                    info.mode = 0o755
                    tar.addfile(info)
            data = files[path]
            info = tarfile.TarInfo(path)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def container_config(spec: RunSpec, payload_size: int, labels: dict[str, str], uid: int) -> dict[str, Any]:
    """The engine's create body for ``spec`` (the seed's flags and more; docs/sandbox.md).
    ``uid`` is the container's own untrusted uid (:mod:`.uids`): the user of a spec that
    names none, and the uid a trusted launcher inside drops untrusted work to (it reads
    it from ``MISALIGN_UNTRUSTED_UID``)."""
    lim = spec.limits
    host_config: dict[str, Any] = {
        "NetworkMode": "bridge" if lim.network else "none",
        "ReadonlyRootfs": True,
        "Tmpfs": {"/tmp": f"rw,{'exec,' if spec.tmp_exec else ''}nosuid,nodev,size={lim.tmpfs_bytes},mode=1777"},
        "Memory": lim.memory_bytes,
        "MemorySwap": lim.memory_bytes,  # equal: no swap (else it defaults to 2x)
        "NanoCpus": int(lim.cpus * 1e9),
        "PidsLimit": lim.pids,
        "CapDrop": ["ALL"],
        "CapAdd": sorted(spec.capabilities) or None,
        "SecurityOpt": ["no-new-privileges"],
        "Init": True,  # reaps zombies, which would otherwise eat the pids budget
        "IpcMode": "private",
        "Ulimits": [
            {"Name": "nofile", "Soft": lim.nofile, "Hard": lim.nofile},
            {"Name": "fsize", "Soft": lim.fsize_bytes, "Hard": lim.fsize_bytes},
        ],
        # Output is read through attach; the engine keeps no copy of floods on its disk.
        "LogConfig": {"Type": "none", "Config": {}},
    }
    return {
        "Image": spec.image,
        "Entrypoint": ["/bin/sh", "-c", BOOT, "misalign-boot"],
        "Cmd": [str(payload_size), spec.workdir, *spec.argv],
        "Env": [f"{k}={v}" for k, v in spec.env.items() if k != UID_ENV] + [f"{UID_ENV}={uid}"],
        "User": spec.user or f"{uid}:{uid}",
        "WorkingDir": "/tmp",
        "Labels": {**labels, LABEL_UID: str(uid)},
        "AttachStdin": True,
        "AttachStdout": True,
        "AttachStderr": True,
        "OpenStdin": True,
        "StdinOnce": True,
        "Tty": False,
        "NetworkDisabled": not lim.network,
        "StopTimeout": 1,
        "HostConfig": host_config,
    }


__all__ = ["BOOT", "BOOT_FAILURE_EXIT", "container_config", "make_tar"]
