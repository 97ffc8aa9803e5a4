"""``misalign-rewards serve``: score batches over HTTP for any process that can POST JSON.

One :class:`RewardClient` (one engine connection, one capacity budget) serves every
request, so the processes of a trainer on one host share it instead of each sizing its
own. Endpoints (docs/integrations.md, "The server"):

    GET  /health           the process is up
    GET  /ready            an engine answers (503 otherwise)
    POST /v1/score         {"batch": [item, ...], "policy"?: "binary"|"pass_rate"}
                           -> {"results": [JobResult, ...]}, one per item, in order (a bad
                           item is its own invalid_input result, as with reward_fn)
    POST /openrlhf         OpenRLHF's remote reward model: {"query": [str], "prompts":
                           [str], "labels": [ground truth]} -> {"rewards": [float],
                           "scores": [float], "extra_logs": {...}}

A request that is not what the endpoint takes is a 4xx naming what is wrong (400 not
JSON or wrong shape, 413 too large, 422 for a sample that cannot become a job); an
infrastructure error where a number is required (OpenRLHF) is a 503, which its client
retries: never a 0. A client that disconnects cancels its batch (its containers are
removed); on SIGTERM or SIGINT the server stops taking requests, lets those in flight
finish (up to the graceful timeout, then cancels them) and closes the client, which
leaves no container.
"""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import AsyncIterator
from typing import Any

import anyio
import structlog

from .client import RewardClient
from .integrations import ground_truth_job
from .outcomes import JobResult
from .settings import Settings

logger = structlog.get_logger("misalign_rewards.server")

#: Largest request body, and most items in one request.
MAX_BODY_BYTES = 64 << 20
MAX_BATCH = 4096


class _Reject(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


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


def make_app(settings: Settings | None = None, *, max_body_bytes: int = MAX_BODY_BYTES,
             max_batch: int = MAX_BATCH) -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    state: dict[str, RewardClient] = {}

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        client = RewardClient(settings)
        state["client"] = client
        try:
            yield
        finally:
            with anyio.CancelScope(shield=True):
                await client.aclose()

    async def body(request: Request) -> Any:
        size = int(request.headers.get("content-length") or 0)
        if size > max_body_bytes:
            raise _Reject(413, f"the body is {size} bytes; at most {max_body_bytes}")
        raw = bytearray()
        async for chunk in request.stream():
            raw += chunk
            if len(raw) > max_body_bytes:
                raise _Reject(413, f"the body is more than {max_body_bytes} bytes")
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise _Reject(400, f"the body is not JSON: {exc}") from None

    async def until_done_or_gone(request: Request, batch: list[Any]) -> list[JobResult] | None:
        """Score ``batch``; None (and the batch cancelled) if the client goes away."""
        client = state["client"]
        out: list[JobResult] = []

        async def watch(scope: anyio.CancelScope) -> None:
            while not await request.is_disconnected():
                await anyio.sleep(0.2)
            logger.info("server.client_gone", items=len(batch))
            scope.cancel()

        async with anyio.create_task_group() as tg:
            tg.start_soon(watch, tg.cancel_scope)
            await client.open()
            out = await client.score(batch)
            tg.cancel_scope.cancel()
        return out if len(out) == len(batch) else None

    def reject(exc: _Reject) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, status_code=exc.status)

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def ready(request: Request) -> JSONResponse:
        try:
            await state["client"].open()
        except Exception as exc:  # noqa: BLE001 - not ready, and why
            return JSONResponse({"ready": False, "error": str(exc)}, status_code=503)
        return JSONResponse({"ready": True})

    async def score(request: Request) -> JSONResponse:
        try:
            data = await body(request)
            if not isinstance(data, dict) or not isinstance(data.get("batch"), list):
                raise _Reject(400, 'expected {"batch": [item, ...]}')
            batch = data["batch"]
            if len(batch) > max_batch:
                raise _Reject(413, f"the batch has {len(batch)} items; at most {max_batch}")
        except _Reject as exc:
            return reject(exc)
        results = await until_done_or_gone(request, batch)
        if results is None:
            return JSONResponse({"error": "cancelled"}, status_code=499)
        return JSONResponse({"results": [r.model_dump(mode="json") for r in results]})

    async def openrlhf(request: Request) -> JSONResponse:
        try:
            data = await body(request)
            if not isinstance(data, dict):
                raise _Reject(400, 'expected {"query": [...], "prompts": [...], "labels": [...]}')
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
                except ValueError as exc:
                    raise _Reject(422, f"sample {i}: {exc}") from None
        except _Reject as exc:
            return reject(exc)
        results = await until_done_or_gone(request, jobs)
        if results is None:
            return JSONResponse({"error": "cancelled"}, status_code=499)
        results = await _wait_out_infra_errors(results, lambda again: until_done_or_gone(request, again), jobs,
                                               state["client"].settings.engine_wait_s)
        if results is None:
            return JSONResponse({"error": "cancelled"}, status_code=499)
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


def serve(settings: Settings | None = None, *, host: str = "127.0.0.1", port: int = 8000,
          graceful_s: float = 30.0, max_batch: int = MAX_BATCH, max_body_bytes: int = MAX_BODY_BYTES) -> None:
    """Run the server until SIGTERM or SIGINT (uvicorn)."""
    import uvicorn

    app = make_app(settings, max_batch=max_batch, max_body_bytes=max_body_bytes)
    config = uvicorn.Config(app, host=host, port=port, lifespan="on", log_level="warning",
                            timeout_graceful_shutdown=max(1, math.ceil(graceful_s)))
    uvicorn.Server(config).run()


__all__ = ["MAX_BATCH", "MAX_BODY_BYTES", "make_app", "serve"]
