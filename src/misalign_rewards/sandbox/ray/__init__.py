"""The Ray backend (``Settings(backend="ray")``): one batch over every Ray node that has a
Docker engine, through :class:`RaySandbox` (docs/scale-out.md).

Two processes meet here, one module for each side and one for what they share:

============  ===============================================================
``driver``    :class:`RaySandbox`, in the calling process: places each run on a node
``node``      ``NodeService``, inside each engine node's Ray actor: runs it there
``protocol``  the calls between the two and their answers, typed once for both
``payload``   how a run's files travel (packed, large contents by hash)
============  ===============================================================

Importing this package needs no Ray (it is an optional dependency, imported where it is
used); ``import ray`` in these modules is the real Ray, never this package (imports here
are absolute, and this package is ``misalign_rewards.sandbox.ray``).
"""

from .driver import RaySandbox

__all__ = ["RaySandbox"]
