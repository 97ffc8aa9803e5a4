"""``misalign-rewards serve``: score batches over HTTP for any process that can POST JSON.

One :class:`RewardClient` (one engine connection, one capacity budget) serves every
request, so the processes of a trainer on one host share it instead of each sizing its
own. Endpoints (docs/integrations.md, "The server"):

    GET  /health           the process is up (open to all)
    GET  /ready            an engine answers now (503 otherwise; asked at most once a second)
    POST /v1/score         {"batch": [item, ...], "policy"?: "binary"|"pass_rate"}
                           -> {"results": [JobResult, ...]}, one per item, in order (a bad
                           item is its own invalid_input result, as with reward_fn)
    POST /openrlhf         OpenRLHF's remote reward model: {"query": [str], "prompts":
                           [str], "labels": [ground truth]} -> {"rewards": [float],
                           "scores": [float], "extra_logs": {...}}

With a token (``--token`` / ``MISALIGN_SERVE_TOKEN``) the scoring routes answer only a
request that carries it: ``Authorization: Bearer TOKEN``, or HTTP Basic auth with TOKEN
as the password (what OpenRLHF's client sends for ``http://user:TOKEN@host/openrlhf``);
anything else is a 401, and the token is compared in constant time. Without a token the
server listens on loopback only.

A request that is not what the endpoint takes is a 4xx naming what is wrong (400 not
JSON, nested too deep or the wrong shape, 408 a body that does not arrive in time, 413
too large, 422 for a sample that cannot become a job); a server that is full (requests,
or body bytes in flight) answers 503 with Retry-After; an infrastructure error where a
number is required (OpenRLHF) is a 503, which its client retries: never a 0. Bodies are
parsed and answers serialised off the event loop, and runs are handed out fairly between
requests (the next free run goes to the request with the fewest runs going), so a small
request is not queued behind a big one. A client that disconnects cancels its batch (its
containers are removed); on SIGTERM or SIGINT the server stops taking requests, lets
those in flight finish (up to the graceful timeout, then cancels them) and closes the
client, which leaves no container.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import contextvars
import hmac
import ipaddress
import itertools
import json
import math
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import anyio
import anyio.to_thread
import structlog

from .client import RewardClient, make_sandbox
from .errors import InfrastructureError
from .integrations import ground_truth_job
from .jobs import InvalidJob, parse_job
from .outcomes import JobResult, Outcome, Status
from .rewards import POLICIES, apply_policy
from .sandbox.base import OutputCallback, RunResult, RunSpec, Sandbox
from .settings import Settings

logger = structlog.get_logger("misalign_rewards.server")

#: Largest request body, and most items in one request.
MAX_BODY_BYTES = 64 << 20
MAX_BATCH = 4096


@dataclass(frozen=True)
class Bounds:
    """What one server holds at once (docs/integrations.md, "What the server bounds")."""

    max_body_bytes: int = MAX_BODY_BYTES
    max_batch: int = MAX_BATCH
    #: Request bodies being read, parsed or scored, all requests together.
    max_bytes_in_flight: int = 2 * MAX_BODY_BYTES
    #: Scoring requests at once; more get 503 with Retry-After.
    max_requests: int = 64
    #: Seconds a request body may take to arrive (408 after).
    body_timeout_s: float = 30.0
    #: Seconds a client is told to wait before trying again (Retry-After).
    retry_after_s: int = 1


class _Reject(Exception):
    """An answer other than the result. ``drain``: bytes of the body to read and drop
    first, so a client still sending sees the answer instead of a reset connection."""

    def __init__(self, status: int, message: str, *, retry_after: int | None = None, drain: int = 0) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after
        self.drain = drain


async def _wait_out_infra_errors(results: list[JobResult], score: Any, jobs: list[Any],
                                 wait_s: float) -> list[JobResult] | None:
    """Where a number is required: when every missing reward is infrastructure trouble
    (an engine restarting), score those samples again with backoff for up to ``wait_s``
    before answering, instead of a 503 that OpenRLHF's client would turn into a lost
    reward after a few seconds of retries. None if the requester went away."""
    deadline = anyio.current_time() + wait_s
    delay = 0.5
    while True:
        missing = [i for i, r in enumerate(results) if r.reward is None]
        if not missing or any(results[i].status.value != "infra_error" for i in missing):
            return results
        if anyio.current_time() + delay > deadline:
            return results
        await anyio.sleep(delay)
        delay = min(delay * 2, 5.0)
        again = await score([jobs[i] for i in missing])
        if again is None:
            return None
        results = list(results)
        for i, r in zip(missing, again, strict=True):
            results[i] = r.model_copy(update={"index": i})


def is_loopback(host: str) -> bool:
    """Whether ``host`` (what the server binds) reaches this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name: it may resolve to anything


def authorized(header: str | None, token: str) -> bool:
    """Whether an ``Authorization`` header carries ``token``: as a bearer token, or as
    the password of HTTP Basic auth (any user name). Compared as bytes, in constant time."""
    if not header:
        return False
    try:
        raw = header.encode("latin-1")  # the bytes that came (HTTP headers are read as latin-1)
    except UnicodeEncodeError:
        return False
    scheme, _, value = raw.strip().partition(b" ")
    value = value.strip()
    if scheme.lower() == b"basic":
        try:
            value = base64.b64decode(value, validate=True).partition(b":")[2]
        except binascii.Error:
            return False
    elif scheme.lower() != b"bearer":
        return False
    return hmac.compare_digest(value, token.encode("utf-8"))


# -- runs shared fairly between requests -------------------------------------------

#: Which request a run belongs to (set by the request's handler; its tasks inherit it).
_REQUEST: contextvars.ContextVar[int] = contextvars.ContextVar("misalign_request", default=0)


class FairGate:
    """At most ``slots`` runs at once. A freed slot goes to the waiting request with the
    fewest runs going, and among those to the one served least recently (a request not
    yet served first), so requests take turns whatever each has queued: a one-job request
    waits for one run to end, not for a ten-job request's queue."""

    def __init__(self, slots: int) -> None:
        self.slots = max(1, slots)
        self.busy = 0
        self.running: Counter[int] = Counter()
        self._waiting: dict[int, list[anyio.Event]] = {}
        self._served: dict[int, int] = {}  # owner -> when it last got a slot
        self._clock = itertools.count()

    async def acquire(self, owner: int) -> None:
        if self.busy < self.slots and not self._waiting:
            self._take(owner)
            return
        event = anyio.Event()
        self._waiting.setdefault(owner, []).append(event)
        try:
            await event.wait()
        except BaseException:
            queue = self._waiting.get(owner, [])
            if event in queue:
                queue.remove(event)
                if not queue:
                    del self._waiting[owner]
            elif event.is_set():  # granted as it was cancelled: pass it on
                self.release(owner)
            raise

    def _take(self, owner: int) -> None:
        self.busy += 1
        self.running[owner] += 1
        self._served[owner] = next(self._clock)

    def release(self, owner: int) -> None:
        self.busy -= 1
        self.running[owner] -= 1
        if self.running[owner] <= 0:
            del self.running[owner]
            if owner not in self._waiting:
                self._served.pop(owner, None)
        while self._waiting and self.busy < self.slots:
            nxt = min(self._waiting, key=lambda o: (self.running[o], self._served.get(o, -1)))
            queue = self._waiting[nxt]
            event = queue.pop(0)
            if not queue:
                del self._waiting[nxt]
            self._take(nxt)
            event.set()


class FairSandbox(Sandbox):
    """``inner`` behind a :class:`FairGate` keyed by the request a run belongs to."""

    def __init__(self, inner: Sandbox, slots: int) -> None:
        self.inner = inner
        self.gate = FairGate(slots)

    def __getattr__(self, name: str) -> Any:  # budget, docker, ... of the backend
        return getattr(self.inner, name)

    async def open(self) -> None:
        await self.inner.open()

    async def aclose(self) -> None:
        await self.inner.aclose()

    async def run(self, spec: RunSpec, *, on_output: OutputCallback | None = None) -> RunResult:
        owner = _REQUEST.get()
        await self.gate.acquire(owner)
        try:
            return await self.inner.run(spec, on_output=on_output)
        finally:
            self.gate.release(owner)


def _slots(settings: Settings, sandbox: Sandbox) -> int:
    """Runs the backend takes at once: the configured cap, else what its budget plans
    for a python run, else the client's in-flight bound."""
    if settings.max_concurrent:
        return settings.max_concurrent
    try:
        return max(1, sandbox.budget.plan(settings.python_limits).limit)  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001 - a backend without a local budget (Ray)
        return settings.max_in_flight


# -- parsing and answering off the event loop ----------------------------------------


def _loads(raw: bytes | bytearray) -> Any:
    try:
        return json.loads(raw)
    except RecursionError:
        raise _Reject(400, "the body is JSON nested deeper than the server parses "
                           "(a job's data may nest at most 64 levels)") from None
    except ValueError as exc:
        raise _Reject(400, f"the body is not JSON: {exc}") from None


def _prevalidate(batch: list[Any]) -> list[Any]:
    """Validate every item here (in a worker thread); the client takes a validated job as
    it is, and a bad item is passed on as it came, to be its own invalid_input."""
    out = []
    for i, item in enumerate(batch):
        parsed = parse_job(item, i) if isinstance(item, dict) else None
        out.append(parsed if parsed is not None and not isinstance(parsed, InvalidJob) else item)
    return out


def _dump_results(results: list[JobResult]) -> bytes:
    """The answer's body; a result that cannot be serialised is replaced by its own
    internal_error, never failing the others."""
    parts = []
    for r in results:
        try:
            parts.append(json.dumps(r.model_dump(mode="json")))
        except (ValueError, TypeError, RecursionError) as exc:
            broken = JobResult(index=r.index, job_id=r.job_id if isinstance(r.job_id, str) else None,
                               kind=r.kind, status=Status.INTERNAL_ERROR, reward=None,
                               error=f"item {r.index}: its result could not be written: {type(exc).__name__}")
            parts.append(json.dumps(broken.model_dump(mode="json")))
    return b'{"results": [' + ", ".join(parts).encode() + b"]}"


def _with_policy(results: list[JobResult], name: str, settings: Settings) -> list[JobResult]:
    policy = POLICIES[name]
    out = []
    for r in results:
        if isinstance(r.outcome, Outcome):
            r = r.model_copy(update={"reward": apply_policy(r.outcome, policy, settings.integrity)})
        out.append(r)
    return out


def make_app(settings: Settings | None = None, *, token: str | None = None, bounds: Bounds | None = None) -> Any:
    # optional dependency: starlette (the server's extra)
    from starlette.applications import Starlette
    from starlette.requests import ClientDisconnect, Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    settings = settings or Settings()
    limits = bounds or Bounds()
    token = token or None
    state: dict[str, Any] = {"requests": 0, "bytes": 0, "ready_at": -math.inf, "ready": None}
    ids = itertools.count(1)
    ready_lock = anyio.Lock()

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        inner = make_sandbox(settings)
        fair = FairSandbox(inner, settings.max_concurrent or settings.max_in_flight)
        client = RewardClient(settings, sandbox=fair)
        state["client"], state["fair"] = client, fair
        try:
            yield
        finally:
            with anyio.CancelScope(shield=True):
                await client.aclose()
                await fair.aclose()

    async def open_client() -> RewardClient:
        client: RewardClient = state["client"]
        await client.open()  # at once if it is open
        if not state.get("sized"):
            fair: FairSandbox = state["fair"]
            fair.gate.slots = _slots(settings, fair.inner)
            state["sized"] = True
        return client

    async def drain(request: Request, most: int) -> None:
        """Read and drop up to ``most`` bytes of a body not read yet (within the body's
        time), holding none of it."""
        if getattr(request.state, "reading", False) or most <= 0:
            return
        with anyio.move_on_after(min(limits.body_timeout_s, 10.0)):
            seen = 0
            while seen <= most:
                message = await request.receive()
                seen += len(message.get("body", b""))
                if message["type"] != "http.request" or not message.get("more_body", False):
                    return

    def reject(exc: _Reject) -> JSONResponse:
        headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after is not None else None
        if exc.status == 401:
            headers = {"WWW-Authenticate": 'Bearer realm="misalign-rewards"'}
        return JSONResponse({"error": str(exc)}, status_code=exc.status, headers=headers)

    @contextlib.asynccontextmanager
    async def admitted(request: Request) -> AsyncIterator[None]:
        """Authenticated, and within the bound on requests at once; the bytes this
        request holds are given back when it ends."""
        if token is not None and not authorized(request.headers.get("authorization"), token):
            raise _Reject(401, "a token is required: 'Authorization: Bearer TOKEN' (or Basic auth with "
                               "TOKEN as the password)", drain=1 << 20)
        if state["requests"] >= limits.max_requests:
            raise _Reject(503, f"the server is busy ({limits.max_requests} requests in flight); "
                               "try again", retry_after=limits.retry_after_s, drain=limits.max_body_bytes)
        state["requests"] += 1
        held = [0]
        request.state.held = held
        try:
            yield
        finally:
            state["requests"] -= 1
            state["bytes"] -= held[0]

    def hold(request: Request, n: int) -> None:
        if state["bytes"] + n > limits.max_bytes_in_flight:
            raise _Reject(503, f"the server holds {limits.max_bytes_in_flight} bytes of request bodies "
                               "at most and is full; try again", retry_after=limits.retry_after_s,
                          drain=limits.max_body_bytes)
        state["bytes"] += n
        request.state.held[0] += n

    async def body(request: Request) -> Any:
        size = request.headers.get("content-length")
        try:
            declared = int(size) if size is not None else None
        except ValueError:
            raise _Reject(400, "Content-Length is not a number") from None
        if declared is not None and declared > limits.max_body_bytes:
            raise _Reject(413, f"the body is {declared} bytes; at most {limits.max_body_bytes}")
        if declared is not None:
            hold(request, declared)
        raw = bytearray()
        request.state.reading = True  # from here on, a rejection drains nothing
        try:
            with anyio.fail_after(limits.body_timeout_s):
                async for chunk in request.stream():
                    if declared is None:
                        hold(request, len(chunk))
                    raw += chunk
                    if len(raw) > limits.max_body_bytes:
                        raise _Reject(413, f"the body is more than {limits.max_body_bytes} bytes")
        except TimeoutError:
            raise _Reject(408, f"the body did not arrive within {limits.body_timeout_s:g} s") from None
        except ClientDisconnect:
            raise _Reject(400, "the client went away before its body arrived") from None
        return await anyio.to_thread.run_sync(_loads, raw)

    async def until_done_or_gone(request: Request, batch: list[Any]) -> list[JobResult] | None:
        """Score ``batch``; None (and the batch cancelled) if the client goes away."""
        out: list[JobResult] = []

        async def watch(scope: anyio.CancelScope) -> None:
            while not await request.is_disconnected():
                await anyio.sleep(0.2)
            logger.info("server.client_gone", items=len(batch))
            scope.cancel()

        try:
            client = await open_client()
        except InfrastructureError as exc:
            raise _Reject(503, f"no engine: {exc}", retry_after=limits.retry_after_s) from None
        token_ = _REQUEST.set(next(ids))
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(watch, tg.cancel_scope)
                out = await client.score(batch)
                tg.cancel_scope.cancel()
        finally:
            _REQUEST.reset(token_)
        return out if len(out) == len(batch) else None

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def check_engine() -> tuple[bool, str | None]:
        try:
            with anyio.fail_after(5):
                await open_client()
                sandbox = state["fair"].inner
                docker = getattr(sandbox, "docker", None)
                if docker is not None:
                    await docker.version()
                elif not await sandbox.node_stats():
                    return False, "no node of the cluster answers"
        except TimeoutError:
            return False, "the engine did not answer within 5 s"
        except Exception as exc:  # noqa: BLE001 - not ready, and why
            return False, str(exc)
        return True, None

    async def ready(request: Request) -> JSONResponse:
        async with ready_lock:  # one look at the engine at a time, shared by all who ask
            if time.monotonic() - state["ready_at"] > 1.0:
                state["ready"] = await check_engine()
                state["ready_at"] = time.monotonic()
        ok, error = state["ready"]
        if not ok:
            return JSONResponse({"ready": False, "error": error}, status_code=503)
        return JSONResponse({"ready": True})

    async def score(request: Request) -> Response:
        try:
            async with admitted(request):
                data = await body(request)
                if not isinstance(data, dict) or not isinstance(data.get("batch"), list):
                    raise _Reject(400, 'expected {"batch": [item, ...]}')
                batch = data["batch"]
                if len(batch) > limits.max_batch:
                    raise _Reject(413, f"the batch has {len(batch)} items; at most {limits.max_batch}")
                policy = data.get("policy")
                if policy is not None and (not isinstance(policy, str) or policy not in POLICIES):
                    raise _Reject(400, f"policy: {str(policy)[:40]!r} is not a reward policy; use one of "
                                       f"{sorted(POLICIES)}")
                batch = await anyio.to_thread.run_sync(_prevalidate, batch)
                del data
                results = await until_done_or_gone(request, batch)
                if results is None:
                    return JSONResponse({"error": "cancelled"}, status_code=499)
                if policy is not None:
                    results = _with_policy(results, policy, settings)
                content = await anyio.to_thread.run_sync(_dump_results, results)
                return Response(content, media_type="application/json")
        except _Reject as exc:
            await drain(request, exc.drain)
            return reject(exc)

    async def openrlhf(request: Request) -> JSONResponse:
        try:
            async with admitted(request):
                data = await body(request)
                if not isinstance(data, dict):
                    raise _Reject(400, 'expected {"query": [...], "prompts": [...], "labels": [...]}')
                jobs = await anyio.to_thread.run_sync(_openrlhf_jobs, data, limits.max_batch)
                del data
                results = await until_done_or_gone(request, jobs)
                if results is None:
                    return JSONResponse({"error": "cancelled"}, status_code=499)
                # Where a number is required: wait out an engine that is restarting.
                results = await _wait_out_infra_errors(
                    results, lambda again: until_done_or_gone(request, again), jobs,
                    state["client"].settings.engine_wait_s)
                if results is None:
                    return JSONResponse({"error": "cancelled"}, status_code=499)
        except _Reject as exc:
            await drain(request, exc.drain)
            return reject(exc)
        missing = [r for r in results if r.reward is None]
        if missing:
            # OpenRLHF's client retries any non-2xx alike, then drops the reward: the
            # status is for people and other clients; the grader's mistake is logged loudly
            first = next((r for r in missing if r.status.value == "invalid_input"), missing[0])
            status = 422 if first.status.value == "invalid_input" else 503
            if status == 422:
                logger.error("server.invalid_label", sample=first.index, error=first.error)
            return JSONResponse({"error": f"sample {first.index}: {first.status.value}: {first.error}"},
                                status_code=status, headers={"Retry-After": "1"} if status == 503 else None)
        rewards = [float(r.reward) for r in results if r.reward is not None]
        passed = [1.0 if r.status.value == "passed" else 0.0 for r in results]
        flagged = [float(len(r.flags)) for r in results]
        return JSONResponse({"rewards": rewards, "scores": rewards,
                             "extra_logs": {"passed": passed, "flag_count": flagged}})

    async def app_errors(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("server.error", path=request.url.path)
        return JSONResponse({"error": f"internal error: {type(exc).__name__}"}, status_code=500)

    routes = [Route("/health", health), Route("/ready", ready),
              Route("/v1/score", score, methods=["POST"]), Route("/openrlhf", openrlhf, methods=["POST"])]
    return Starlette(routes=routes, lifespan=lifespan, exception_handlers={Exception: app_errors})


def _openrlhf_jobs(data: dict[str, Any], max_batch: int) -> list[Any]:
    """OpenRLHF's request as jobs (in a worker thread); a sample that cannot be one is a
    422 naming it."""
    queries, prompts, labels = data.get("query"), data.get("prompts"), data.get("labels")
    if not (isinstance(queries, list) and isinstance(labels, list) and len(queries) == len(labels)):
        raise _Reject(400, "'query' and 'labels' must be lists of the same length")
    prompts = prompts if isinstance(prompts, list) and len(prompts) == len(queries) else [""] * len(queries)
    if len(queries) > max_batch:
        raise _Reject(413, f"{len(queries)} samples; at most {max_batch}")
    jobs = []
    for i, (query, prompt, label) in enumerate(zip(queries, prompts, labels, strict=True)):
        if not isinstance(query, str) or not isinstance(prompt, str):
            raise _Reject(400, f"sample {i}: query and prompt must be strings")
        response = query[len(prompt):] if prompt and query.startswith(prompt) else query
        try:
            jobs.append(ground_truth_job("", response, label, None))
        except (ValueError, TypeError, RecursionError) as exc:
            raise _Reject(422, f"sample {i}: {type(exc).__name__}: {str(exc)[:500]}") from None
    return jobs


class ServeRefused(Exception):
    """The server will not start as asked (a non-loopback address without a token)."""


def check_exposure(host: str, token: str | None) -> None:
    if not token and not is_loopback(host):
        raise ServeRefused(f"refusing to listen on {host} without a token: anyone who reaches it could run "
                           "code on this machine. Set --token or MISALIGN_SERVE_TOKEN, or listen on 127.0.0.1")


def serve(settings: Settings | None = None, *, host: str = "127.0.0.1", port: int = 8000,
          graceful_s: float = 30.0, token: str | None = None, bounds: Bounds | None = None) -> None:
    """Run the server until SIGTERM or SIGINT (uvicorn). Raises :class:`ServeRefused`
    for a non-loopback ``host`` without a ``token``."""
    import uvicorn  # optional dependency: the server's extra

    check_exposure(host, token)
    bounds = bounds or Bounds()
    app = make_app(settings, token=token, bounds=bounds)
    # uvicorn's own bound on connections and tasks, beyond which it answers 503 before
    # the app sees the request: room for the app's bound plus /health and /ready.
    config = uvicorn.Config(app, host=host, port=port, lifespan="on", log_level="warning",
                            timeout_graceful_shutdown=max(1, math.ceil(graceful_s)),
                            limit_concurrency=bounds.max_requests * 4 + 16, h11_max_incomplete_event_size=64 << 10)
    uvicorn.Server(config).run()


__all__ = ["MAX_BATCH", "MAX_BODY_BYTES", "Bounds", "FairGate", "ServeRefused", "authorized", "check_exposure",
           "is_loopback", "make_app", "serve"]
