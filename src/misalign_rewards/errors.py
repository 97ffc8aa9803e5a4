"""The exceptions of misalign-rewards.

    MisalignError                 root of everything raised at run time
    └── InfrastructureError       the sandbox could not run the job; never a reward of 0
        ├── EngineUnreachable     no engine answers at the endpoint
        ├── ImageNotFound         the image is not present on the engine
        └── EngineError           the engine answered with an error we do not expect

    InvalidSpec (ValueError)      misuse: a spec or setting that can never run
    ClientClosed (RuntimeError)   misuse: a closed client or sandbox was used again

Misuse errors sit outside the runtime root on purpose: retrying them cannot help.
Third-party exceptions (aiodocker, aiohttp) never leave the package; they are mapped to
these with ``raise ... from exc``.
"""

from __future__ import annotations


class MisalignError(Exception):
    """Root of the runtime errors of this package."""


class InfrastructureError(MisalignError):
    """The job could not be run for reasons that are not the job's fault."""


class EngineUnreachable(InfrastructureError):
    """No container engine answers at the configured endpoint."""


class ImageNotFound(InfrastructureError):
    """The image a job needs is not on the engine."""


class EngineError(InfrastructureError):
    """The engine refused or failed an operation."""


class InvalidSpec(ValueError):
    """A run spec, job or setting that can never run as given."""


class ClientClosed(RuntimeError):
    """A closed client or sandbox was used."""
