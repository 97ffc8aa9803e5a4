"""misalign-rewards: rewards from running code and checking proofs in containers.

    from misalign_rewards import reward_fn
    rewards = await reward_fn([{"kind": "pytest", "solution": ..., "tests": ...}])
"""

from importlib.metadata import PackageNotFoundError, version

from .client import RewardClient, reward_fn
from .errors import (
    ClientClosed,
    EngineError,
    EngineUnreachable,
    ImageNotFound,
    InfrastructureError,
    InvalidSpec,
    MisalignError,
)
from .integrations import SyncRewardClient, make_trl_reward, make_verl_compute_score, reward_fn_sync
from .integrity import IntegrityMode
from .jobs import IoJob, LeanJob, PytestJob
from .logs import configure_logging
from .outcomes import IntegrityFlag, JobResult, LeanMessage, Outcome, Status, TestCase, TestOutcome
from .rewards import RewardPolicy, binary, pass_rate
from .sandbox.base import Limits, LimitsOverride, RunResult, RunSpec, Sandbox
from .sandbox.docker import DockerSandbox
from .settings import Settings

try:
    __version__ = version("misalign-rewards")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0+unknown"

__all__ = [
    "ClientClosed",
    "DockerSandbox",
    "EngineError",
    "EngineUnreachable",
    "ImageNotFound",
    "InfrastructureError",
    "IntegrityFlag",
    "IntegrityMode",
    "InvalidSpec",
    "IoJob",
    "JobResult",
    "LeanJob",
    "LeanMessage",
    "Limits",
    "LimitsOverride",
    "MisalignError",
    "Outcome",
    "PytestJob",
    "RewardClient",
    "RewardPolicy",
    "RunResult",
    "RunSpec",
    "Sandbox",
    "Settings",
    "Status",
    "SyncRewardClient",
    "TestCase",
    "TestOutcome",
    "__version__",
    "binary",
    "configure_logging",
    "make_trl_reward",
    "make_verl_compute_score",
    "pass_rate",
    "reward_fn",
    "reward_fn_sync",
]
