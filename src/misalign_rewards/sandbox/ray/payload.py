"""How a run's files travel from a driver to a node: packed once, large contents by hash.

File contents of at least ``blob_min_bytes`` (the harness, warm files, big tests) go into
Ray's object store once per driver by their hash (:class:`DriverBlobs`) and are fetched by
each node at most once while its cache holds them (the node's side is
:class:`~.node.NodeService`); a run carries only their hashes (:class:`~.protocol.Blob`)
and refs. Packing is pure: nothing here needs Ray but the object store handed to
:class:`DriverBlobs`.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from typing import Any

from ...errors import EngineError
from ..base import RunSpec, WarmSpec
from .protocol import Blob, Content, PackedSpec

#: Contents this large or larger travel through the object store.
BLOB_MIN_BYTES = 4096


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def pack_spec(spec: RunSpec, min_bytes: int = BLOB_MIN_BYTES) -> tuple[PackedSpec, dict[str, bytes]]:
    """``spec`` packed, its large contents as :class:`Blob` s, and those contents by
    digest."""
    blobs: dict[str, bytes] = {}

    def put(data: bytes) -> Content:
        if len(data) < min_bytes:
            return data
        d = _digest(data)
        blobs[d] = data
        return Blob(digest=d)

    bare = spec.model_copy(update={"files": {}, "stdin": b"",
                                   "warm": None if spec.warm is None else WarmSpec(argv=spec.warm.argv)})
    packed = PackedSpec(
        spec=bare,
        files={path: put(data) for path, data in spec.files.items()},
        stdin=put(spec.stdin),
        warm_files=None if spec.warm is None else {path: put(data) for path, data in spec.warm.files.items()},
    )
    return packed, blobs


def unpack_spec(packed: PackedSpec, blobs: dict[str, bytes]) -> RunSpec:
    """The spec ``packed`` stands for, its blobs filled in from ``blobs`` (by digest; a
    missing one is a KeyError, never empty content). Validated again, as on the driver."""

    def get(value: Content) -> bytes:
        return blobs[value.digest] if isinstance(value, Blob) else value

    data = packed.spec.model_dump(exclude={"files", "stdin", "warm"})
    data["files"] = {path: get(v) for path, v in packed.files.items()}
    data["stdin"] = get(packed.stdin)
    if packed.spec.warm is not None:
        data["warm"] = WarmSpec(argv=packed.spec.warm.argv,
                                files={p: get(v) for p, v in (packed.warm_files or {}).items()})
    return RunSpec.model_validate(data)


class DriverBlobs:
    """Digest -> object ref, held while runs use it and for the ``keep`` most recent."""

    def __init__(self, ray: Any, keep: int = 64) -> None:
        self._ray = ray
        self._refs: dict[str, Any] = {}
        self._users: dict[str, int] = {}
        self._recent: OrderedDict[str, None] = OrderedDict()
        self._keep = keep
        self.puts = 0  # object-store puts, and the distinct files they were for
        self.distinct: set[str] = set()

    def acquire(self, blobs: dict[str, bytes]) -> dict[str, Any]:
        refs: dict[str, Any] = {}
        try:
            for d, data in blobs.items():
                if d not in self._refs:
                    self._refs[d] = self._ray.put(data)
                    self.puts += 1
                    self.distinct.add(d)
                self._users[d] = self._users.get(d, 0) + 1
                self._recent.pop(d, None)
                refs[d] = self._refs[d]
        except BaseException as exc:
            self.release(refs)
            if isinstance(exc, Exception):  # the object store refused (full, gone)
                raise EngineError(f"Ray's object store did not take a run's files: "
                                  f"{type(exc).__name__}: {exc}") from exc
            raise
        return refs

    def release(self, digests: Any) -> None:
        for d in digests:
            self._users[d] -= 1
            if self._users[d] == 0:
                del self._users[d]
                self._recent[d] = None
        while len(self._recent) > self._keep:
            d, _ = self._recent.popitem(last=False)
            self._refs.pop(d, None)


__all__ = ["BLOB_MIN_BYTES", "DriverBlobs", "pack_spec", "unpack_spec"]
