"""What training loops call: :class:`RewardClient` and :func:`reward_fn`.

A batch is a list of jobs (:class:`~.jobs.PytestJob`, :class:`~.jobs.IoJob`,
:class:`~.jobs.LeanJob`) or dicts with ``kind``; kinds may be mixed. The result is one
entry per input, in input order: an invalid item gets status ``invalid_input`` with a
message naming the field, and the rest still run. Infrastructure errors are retried with
backoff, then reported as a ``None`` reward (or raised, by setting): never as 0.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Sequence
from enum import Enum
from inspect import isawaitable
from typing import Any, Self

import anyio
import structlog

from .errors import ClientClosed, EngineUnreachable, ImageNotFound, InfrastructureError, InvalidSpec
from .jobs import InvalidJob, IoJob, LeanJob, PytestJob, parse_job
from .logs import get_logger
from .outcomes import JobResult, Outcome, Status
from .rewards import RewardPolicy, apply_policy, resolve_policy
from .sandbox.base import RunResult, RunSpec, Sandbox
from .sandbox.docker import DockerSandbox
from .sandbox.labels import LABEL_BATCH, LABEL_JOB
from .sandbox.pool import PooledSandbox
from .sandbox.ray import RaySandbox
from .settings import Settings
from .verifiers.base import Verifier
from .verifiers.io import IoVerifier
from .verifiers.lean import LeanVerifier
from .verifiers.pytest import PytestVerifier

logger = get_logger("misalign_rewards.client")

ResultCallback = Callable[[JobResult], Awaitable[None] | None]


class _State(Enum):
    UNOPENED = "unopened"
    OPEN = "open"
    CLOSED = "closed"


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (q in [0, 100]); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5 - 1e-9)))
    return ordered[rank - 1]


def _leaves(group: BaseExceptionGroup) -> Iterator[BaseException]:
    for exc in group.exceptions:
        if isinstance(exc, BaseExceptionGroup):
            yield from _leaves(exc)
        else:
            yield exc


def _parse(item: Any, index: int) -> PytestJob | IoJob | LeanJob | InvalidJob:
    try:
        return parse_job(item, index)
    except Exception as exc:  # noqa: BLE001 - an object that breaks validation is still one bad item
        return InvalidJob(index=index, job_id=None, error=f"cannot read the item: {type(exc).__name__}: {exc}")


def make_sandbox(s: Settings) -> Sandbox:
    """The backend the settings name: a :class:`PooledSandbox` over a
    :class:`DockerSandbox` (fresh runs pass straight through it), or a
    :class:`~.sandbox.ray.RaySandbox` whose nodes each hold one."""
    if s.backend == "ray":
        return RaySandbox(s.ray_address, namespace=s.ray_namespace, node_resource=s.ray_node_resource,
                          lease_s=s.ray_lease_s,
                          node_options={"max_concurrent": s.max_concurrent,
                                        "api_timeout_s": s.engine_api_timeout_s,
                                        "pool_max_jobs": s.pool_max_jobs, "pool_max_age_s": s.pool_max_age_s,
                                        "pool_idle_s": s.pool_idle_s})
    return PooledSandbox(
        DockerSandbox(url=s.docker_url, max_concurrent=s.max_concurrent, api_timeout_s=s.engine_api_timeout_s),
        max_jobs=s.pool_max_jobs, max_age_s=s.pool_max_age_s, idle_s=s.pool_idle_s)


class RewardClient:
    """Owns the engine connection (through its sandbox), the reaper and the limiter.

    ``async with RewardClient() as client: rewards = await client.rewards(batch)``.
    A sandbox may be injected (any :class:`Sandbox`); otherwise :func:`make_sandbox`
    makes one from the settings (``backend``) and it is closed with the client. A closed client cannot reopen.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        sandbox: Sandbox | None = None,
        policy: str | RewardPolicy | None = None,
        verifiers: dict[str, Verifier[Any]] | None = None,
    ) -> None:
        self.settings = settings or Settings()
        s = self.settings
        self._owns_sandbox = sandbox is None
        self.sandbox: Sandbox = sandbox or make_sandbox(s)
        self.policy = resolve_policy(policy or s.reward_policy)
        def pytest_verifier_for(image: str, **extra: Any) -> PytestVerifier:
            return PytestVerifier(image=image, limits=s.python_limits, timeout_s=s.python_timeout_s,
                                  integrity=s.integrity, call_timeout_s=s.python_call_timeout_s,
                                  isolation=s.isolation, pool_idle_s=s.pool_idle_s, **extra)

        pytest_verifier = pytest_verifier_for(s.python_image_ref)
        self.verifiers: dict[str, Verifier[Any]] = verifiers or {
            "pytest": pytest_verifier,
            "io": IoVerifier(pytest_verifier, {"cpp": pytest_verifier_for(s.cpp_image_ref, tmp_exec=True)},
                             policy=self.policy),
            "lean": LeanVerifier(image=s.lean_image_ref, limits=s.lean_limits,
                                 timeout_s=s.lean_timeout_s, integrity=s.integrity,
                                 reject_tokens=s.lean_reject_tokens),
        }
        self._state = _State.UNOPENED

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def open(self) -> None:
        if self._state is _State.CLOSED:
            raise ClientClosed("this RewardClient is closed; make a new one")
        if self._state is _State.OPEN:
            return
        await self._open_sandbox()
        self._state = _State.OPEN

    async def _open_sandbox(self) -> None:
        """Open the sandbox; an engine that does not answer is waited for, with backoff,
        up to ``Settings.engine_wait_s`` in all, then the error is raised."""
        deadline = time.monotonic() + self.settings.engine_wait_s
        delay = 0.25
        while True:
            try:
                await self.sandbox.open()
                return
            except EngineUnreachable as exc:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise
                logger.warning("engine.waiting", error=str(exc), retry_in_s=round(min(delay, left), 2))
                await anyio.sleep(min(delay, left))
                delay = min(delay * 2, 5.0)

    async def aclose(self) -> None:
        if self._state is _State.CLOSED:
            return
        self._state = _State.CLOSED
        if self._owns_sandbox:
            await self.sandbox.aclose()

    # -- batches -------------------------------------------------------------------

    async def rewards(self, batch: Sequence[Any]) -> list[float | None]:
        """Just the rewards, one per input, in order."""
        return [r.reward for r in await self.score(batch)]

    async def score(self, batch: Sequence[Any], *, on_result: ResultCallback | None = None,
                    batch_id: str | None = None) -> list[JobResult]:
        """Full results (outcome, reward, timings, flags), one per input, in order.
        ``on_result`` is called as each result is known (for progress)."""
        if self._state is _State.CLOSED:
            raise ClientClosed("this RewardClient is closed; make a new one")
        if self._state is not _State.OPEN:
            raise RuntimeError("the RewardClient is not open: use 'async with RewardClient(...) as client' "
                               "(or reward_fn for one call)")
        batch_id = batch_id or uuid.uuid4().hex[:12]
        results: list[JobResult | None] = [None] * len(batch)
        parsed = [_parse(item, i) for i, item in enumerate(batch)]
        log = logger.bind(batch_id=batch_id)
        kinds = Counter(p.kind if not isinstance(p, InvalidJob) else "invalid" for p in parsed)
        log.info("batch.started", size=len(batch), kinds=dict(kinds))
        t0 = time.monotonic()

        async def deliver(result: JobResult) -> None:
            results[result.index] = result
            if on_result is not None:
                maybe = on_result(result)
                if isawaitable(maybe):
                    await maybe

        pending = iter([(i, p) for i, p in enumerate(parsed)])

        async def worker() -> None:
            for index, job in pending:
                if isinstance(job, InvalidJob):
                    await deliver(self._invalid(job, batch_id))
                else:
                    await deliver(await self._one(job, index, batch_id))

        try:
            async with anyio.create_task_group() as tg:
                for _ in range(min(self.settings.max_in_flight, max(1, len(batch)))):
                    tg.start_soon(worker)
        except BaseExceptionGroup as group:
            # raise_on_infra_error: the caller gets the error, not the task group's wrapper
            leaves = list(_leaves(group))
            if all(isinstance(e, InfrastructureError) for e in leaves):
                raise leaves[0] from group
            raise

        done = [r for r in results if r is not None]
        assert len(done) == len(batch), "every input gets exactly one result"
        elapsed = time.monotonic() - t0
        latencies = [r.timings.get("total", 0.0) for r in done if r.status is not Status.INVALID_INPUT]
        log.info(
            "batch.finished", size=len(batch), duration_s=round(elapsed, 4),
            counts=dict(Counter(r.status.value for r in done)),
            jobs_per_s=round(len(batch) / elapsed, 3) if elapsed > 0 else None,
            latency_p50_s=percentile(latencies, 50), latency_p95_s=percentile(latencies, 95),
            latency_p99_s=percentile(latencies, 99),
        )
        return done

    def _invalid(self, job: InvalidJob, batch_id: str) -> JobResult:
        logger.warning("job.invalid", batch_id=batch_id, index=job.index, job_id=job.job_id, error=job.error)
        return JobResult(index=job.index, job_id=job.job_id, kind=None, status=Status.INVALID_INPUT,
                         reward=None, error=f"item {job.index}: {job.error}")

    async def _one(self, job: PytestJob | IoJob | LeanJob, index: int, batch_id: str) -> JobResult:
        verifier = self.verifiers[job.kind]
        s = self.settings
        t0 = time.monotonic()
        with structlog.contextvars.bound_contextvars(job_id=job.job_id, batch_id=batch_id, kind=job.kind):
            logger.info("job.started", index=index)
            runs: list[RunResult] = []
            labels = {LABEL_JOB: job.job_id[:63], LABEL_BATCH: batch_id}

            async def run(spec: RunSpec) -> RunResult:
                spec = spec.model_copy(update={"labels": {**spec.labels, **labels}})
                result = await self.sandbox.run(spec)
                runs.append(result)
                return result

            attempt = 0
            error: str | None = None
            while True:
                attempt += 1
                runs.clear()
                try:
                    outcome = await verifier.verify(job, run)
                    break
                except InvalidSpec as exc:
                    # limits or a spec the backend can never run: the caller's mistake
                    error = f"item {index}: {exc}"
                    logger.warning("job.invalid", index=index, error=error)
                    outcome = Outcome(status=Status.INVALID_INPUT, detail=error)
                    break
                except InfrastructureError as exc:
                    # a missing image will not appear by waiting: no retry
                    if attempt <= s.infra_retries and not isinstance(exc, ImageNotFound):
                        delay = s.infra_backoff_s * 2 ** (attempt - 1)
                        logger.warning("job.retry", attempt=attempt, error=str(exc), delay_s=delay)
                        await anyio.sleep(delay)
                        continue
                    logger.error("job.infra_error", attempt=attempt, error=str(exc),
                                 error_type=type(exc).__name__)
                    if s.raise_on_infra_error:
                        raise
                    error = str(exc)
                    outcome = Outcome(status=Status.INFRA_ERROR, detail=error)
                    break
                except Exception as exc:  # noqa: BLE001 - one bad item never takes the batch down
                    error = (f"item {index}: internal error in misalign-rewards while preparing or "
                             f"judging the job: {type(exc).__name__}: {exc}")
                    logger.exception("job.internal_error", index=index, error_type=type(exc).__name__)
                    outcome = Outcome(status=Status.INTERNAL_ERROR, detail=error)
                    break

            reward = apply_policy(outcome, self.policy, s.integrity)
            timings = {k: round(sum(getattr(r.durations, k) for r in runs), 6)
                       for k in ("queued", "create", "start", "run", "cleanup")}
            timings["total"] = round(time.monotonic() - t0, 6)
            result = JobResult(index=index, job_id=job.job_id, kind=job.kind, status=outcome.status,
                               reward=reward, outcome=outcome, error=error, attempts=attempt,
                               timings=timings, exit_codes=[r.exit_code for r in runs],
                               metadata=job.metadata)
            logger.info(
                "job.finished", index=index, status=outcome.status.value, reward=reward,
                exit_codes=result.exit_codes, attempts=attempt, advisory=outcome.advisory,
                flag_codes=",".join(sorted({f.code for f in outcome.flags})), duration_s=timings["total"],
                run_s=timings["run"], queued_s=timings["queued"],
            )
            return result


async def reward_fn(batch: Sequence[Any], *, settings: Settings | None = None) -> list[float | None]:
    """One reward per input, in order: ``await reward_fn(batch)``.

    Opens a client for the call. In a training loop, keep a :class:`RewardClient` open
    instead and call ``await client.rewards(batch)``: it saves the connection set-up and
    the orphan sweep per batch.
    """
    async with RewardClient(settings) as client:
        return await client.rewards(batch)
