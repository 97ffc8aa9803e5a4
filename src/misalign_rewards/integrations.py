"""Adapters for trainers: a TRL-style async reward function, a verl-style
``compute_score``, and a synchronous client for code that is not async.
docs/integrations.md shows each one running."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import math
import os
import re
import threading
import warnings
import weakref
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractContextManager
from typing import Any, Literal, Self

import anyio.from_thread

from .client import RewardClient
from .datasets.contest import DatasetRowError, prime_code
from .outcomes import JobResult, Status
from .settings import Settings

_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[^\n]*\n(.*?)```", re.DOTALL)


def _content(content: Any) -> str:
    """A message's ``content``: a string, or a list of blocks (multimodal chat templates:
    ``[{"type": "text", "text": ...}, ...]``), whose text parts are joined."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for block in content:
            if isinstance(block, str):
                parts.append(block)
            elif isinstance(block, dict) and isinstance(block.get("text"), str):
                parts.append(block["text"])
        return "\n".join(parts)
    return "" if content is None else str(content)


def completion_text(completion: Any) -> str:
    """The text of a completion: a string, or a chat message list / message dict (the
    last assistant message's ``content``, a string or a list of text blocks)."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, dict):
        return _content(completion.get("content", ""))
    if isinstance(completion, Sequence):
        for message in reversed(completion):
            if isinstance(message, dict) and message.get("role", "assistant") == "assistant":
                return _content(message.get("content", ""))
    raise TypeError(f"cannot read a completion of type {type(completion).__name__}")


def extract_code(text: str, language: str = "python") -> str:
    """The last fenced code block in ``language`` (or unlabelled); the whole text when
    there is none."""
    names = _LANGUAGE_NAMES.get(language, {language})
    blocks = [(lang.lower(), body) for lang, body in _FENCE.findall(text)]
    for lang, body in reversed(blocks):
        if lang == "" or lang in names:
            return body
    return text


#: Fence labels that mean the same language (what models write after the backticks).
_LANGUAGE_NAMES = {"python": {"python", "py", "python3", "py3"}, "lean": {"lean", "lean4"},
                   "cpp": {"cpp", "c++", "cxx", "cc"}}


def _at(values: Any, i: int, name: str) -> Any:
    if values is None:
        raise KeyError(f"the reward function needs the dataset column {name!r}")
    return values[i] if isinstance(values, list | tuple) else values


def make_trl_reward(
    settings: Settings | None = None,
    *,
    kind: Literal["pytest", "lean", "io"] = "pytest",
    tests_column: str = "tests",
    statement_column: str = "statement",
    cases_column: str = "ground_truth",
    on_infra_error: Literal["none", "raise"] = "none",
    name: str | None = None,
) -> Callable[..., Awaitable[list[float | None]]]:
    """A TRL-style reward function: ``async (completions, **kwargs) -> list[float | None]``.

    Pytest: each completion's last Python block is the solution; the dataset column
    ``tests_column`` holds the test source, and the optional columns ``mode``,
    ``timeout_s`` and ``expected_tests`` are used per row when present. Lean: the
    completion's last ``lean`` block is the proof of ``statement_column``. Io: the last
    Python block is the program, judged on the cases in ``cases_column`` (verl's
    ``prime_code`` form ``{"inputs", "outputs", "fn_name"?}``, a dict or its JSON text).

    ``on_infra_error``: ``"none"`` (default) gives ``None`` for a sample whose reward
    could not be computed, which TRL treats as missing; but with several reward
    functions TRL sums the others (``nansum``) and warns only when all are ``None``, so
    a missing image would silently train on the other rewards alone. ``"raise"`` fails
    the step instead: use it when this reward must never be absent.
    """
    if on_infra_error not in ("none", "raise"):
        raise ValueError("on_infra_error must be 'none' or 'raise'")

    def per_row(job: dict[str, Any], kwargs: dict[str, Any], i: int) -> dict[str, Any]:
        for column in ("mode", "timeout_s", "expected_tests"):
            if kwargs.get(column) is not None:
                value = _at(kwargs[column], i, column)
                if value is not None:
                    job[column] = value
        return job

    async def reward(completions: Sequence[Any], **kwargs: Any) -> list[float | None]:
        jobs: list[dict[str, Any]] = []
        for i, completion in enumerate(completions):
            text = completion_text(completion)
            if kind == "pytest":
                jobs.append(per_row({"kind": "pytest", "solution": extract_code(text, "python"),
                                     "tests": _at(kwargs.get(tests_column), i, tests_column)}, kwargs, i))
            elif kind == "io":
                try:
                    jobs.append(prime_code(_at(kwargs.get(cases_column), i, cases_column),
                                           extract_code(text, "python")).model_dump())
                except (DatasetRowError, ValueError) as exc:
                    jobs.append({"kind": "io", "invalid": f"{cases_column}[{i}]: {exc}"})  # its own invalid_input
            else:
                jobs.append({"kind": "lean", "proof": extract_code(text, "lean"),
                             "statement": _at(kwargs.get(statement_column), i, statement_column)})
        async with RewardClient(settings) as client:
            results = await client.score(jobs)
        if on_infra_error == "raise":
            missing = [r for r in results if r.reward is None]
            if missing:
                raise RuntimeError(f"{len(missing)} of {len(results)} rewards could not be computed; first: "
                                   f"item {missing[0].index}: {missing[0].status.value}: {missing[0].error}")
        return [r.reward for r in results]

    reward.__name__ = name or f"misalign_{kind}_reward"
    return reward


#: The longest a process's exit waits for a client left open to close (its containers
#: removed); past it the process exits anyway and the next client's sweep reaps them.
EXIT_CLOSE_S = 30.0


class _LoopThread:
    """An event loop in a daemon thread, reached through an anyio blocking portal. A
    daemon thread never keeps a process alive at exit (anyio's own portal thread, from a
    thread pool, would: the interpreter joins it and it never ends)."""

    def __init__(self) -> None:
        ready = threading.Event()
        self.portal: anyio.from_thread.BlockingPortal | None = None
        self.error: BaseException | None = None

        async def serve() -> None:
            async with anyio.from_thread.BlockingPortal() as portal:
                self.portal = portal
                ready.set()
                await portal.sleep_until_stopped()

        def main() -> None:
            try:
                anyio.run(serve)
            except BaseException as exc:  # surfaced to the opener below
                self.error = exc
                ready.set()

        self.thread = threading.Thread(target=main, name="misalign-rewards-loop", daemon=True)
        self.thread.start()
        ready.wait()
        if self.portal is None:
            raise RuntimeError(f"the client's event loop did not start: {self.error!r}")

    def call(self, fn: Callable[..., Awaitable[Any]], *args: Any, timeout: float | None = None) -> Any:
        assert self.portal is not None
        return self.portal.start_task_soon(fn, *args).result(timeout)

    def stop(self) -> None:
        if self.portal is not None and self.thread.is_alive():
            try:
                self.portal.call(self.portal.stop, True)
            except RuntimeError:  # the loop has already ended
                pass
        self.thread.join(5)


def _shutdown(loop: _LoopThread, client: RewardClient, state: dict[str, bool], timeout: float | None) -> None:
    """Close ``client`` on ``loop`` (within ``timeout``), then end the loop: run by
    :meth:`SyncRewardClient.close`, or by its finalizer when the client is collected or the
    process exits normally with the client still open."""
    if state["closed"]:
        return
    state["closed"] = True
    try:
        loop.call(client.aclose, timeout=timeout)
    except (TimeoutError, concurrent.futures.TimeoutError):
        warnings.warn(f"misalign-rewards: a client did not close within {timeout} s at exit; its "
                      "containers are removed by the next client's sweep (or `misalign-rewards reap`)",
                      RuntimeWarning, stacklevel=1)
    finally:
        loop.stop()


class SyncRewardClient(AbstractContextManager["SyncRewardClient"]):
    """A :class:`RewardClient` running on its own event loop in a background (daemon)
    thread, for code that is not async. ``with SyncRewardClient() as c: c.rewards(batch)``.

    It never keeps a process from exiting; one left open is closed (its containers
    removed) when it is garbage-collected or when the process exits normally, waiting at
    most :data:`EXIT_CLOSE_S` for that at exit."""

    def __init__(self, settings: Settings | None = None) -> None:
        self._loop = _LoopThread()
        self._client = RewardClient(settings)
        self._state = {"closed": False}
        try:
            self._loop.call(self._client.open)
        except BaseException:
            self._state["closed"] = True
            self._loop.stop()
            raise
        self._finalizer = weakref.finalize(self, _shutdown, self._loop, self._client, self._state, EXIT_CLOSE_S)

    def score(self, batch: Sequence[Any]) -> list[JobResult]:
        return self._loop.call(self._client.score, batch)

    def rewards(self, batch: Sequence[Any]) -> list[float | None]:
        return self._loop.call(self._client.rewards, batch)

    async def ascore(self, batch: Sequence[Any]) -> list[JobResult]:
        """:meth:`score` awaited from any other event loop (the work runs on this client's)."""
        assert self._loop.portal is not None
        return await asyncio.wrap_future(self._loop.portal.start_task_soon(self._client.score, batch))

    def close(self) -> None:
        self._finalizer.detach()
        _shutdown(self._loop, self._client, self._state, None)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def reward_fn_sync(batch: Sequence[Any], *, settings: Settings | None = None) -> list[float | None]:
    """``reward_fn`` for code that is not async (opens a client for the call)."""
    with SyncRewardClient(settings) as client:
        return client.rewards(batch)


def ground_truth_job(data_source: Any, solution_str: str, ground_truth: Any, extra_info: Any) -> dict[str, Any]:
    """The job for one sample given as verl gives it (see :func:`make_verl_compute_score`);
    the server's OpenRLHF endpoint reads its labels the same way."""
    extra = extra_info if isinstance(extra_info, dict) else {}
    truth = ground_truth
    if isinstance(truth, str) and truth.lstrip().startswith("{"):
        try:
            truth = json.loads(truth)
        except ValueError as exc:
            raise ValueError(f"ground_truth looks like JSON but is not: {exc}") from None
    io_like = isinstance(truth, dict) and "inputs" in truth and "outputs" in truth
    kind = extra.get("kind") or ("io" if io_like else "lean" if "lean" in str(data_source).lower() else "pytest")
    if kind == "io":
        try:
            return prime_code(truth, extract_code(solution_str, "python")).model_dump()
        except (DatasetRowError, ValueError) as exc:
            raise ValueError(f"ground_truth is not a prime_code one ({{'inputs', 'outputs', 'fn_name'?}}): "
                             f"{exc}") from None
    if kind == "lean":
        statement = truth.get("statement") if isinstance(truth, dict) else truth
        if not isinstance(statement, str):
            raise ValueError("ground_truth for a lean sample is the statement, or {'statement': ...}")
        return {"kind": "lean", "statement": statement, "proof": extract_code(solution_str, "lean")}
    if kind != "pytest":
        raise ValueError(f"extra_info['kind'] is {kind!r}; expected 'pytest', 'io' or 'lean'")
    tests = truth.get("tests") if isinstance(truth, dict) else truth
    if not isinstance(tests, str | dict):
        raise ValueError("ground_truth is none of: the test source (a string); {'tests': ..., 'expected_tests'?}; "
                         "a prime_code object {'inputs', 'outputs', 'fn_name'?}; a lean statement"
                         f" (got {type(truth).__name__}{' with keys ' + str(sorted(truth)) if isinstance(truth, dict) else ''})")
    job: dict[str, Any] = {"kind": "pytest", "tests": tests, "solution": extract_code(solution_str, "python")}
    if isinstance(truth, dict) and truth.get("expected_tests"):
        job["expected_tests"] = truth["expected_tests"]
    return job


class VerlComputeScore:
    """verl's ``compute_score``: what :func:`make_verl_compute_score` returns.

    A module-level class so that it pickles (verl's ``prime`` manager sends it to a
    process pool, the reward loop's ``remote`` manager to Ray workers): its state is the
    settings and options only; each process makes its own :class:`SyncRewardClient` at its
    first call (once, under a lock: verl calls it from a thread pool)."""

    def __init__(self, settings: Settings | None, on_infra_error: str, mask_value: float, returns: str) -> None:
        if on_infra_error not in ("raise", "nan", "mask"):
            raise ValueError("on_infra_error must be 'raise', 'nan' or 'mask'")
        if returns not in ("dict", "score"):
            raise ValueError("returns must be 'dict' or 'score'")
        self.settings, self.on_infra_error, self.mask_value, self.returns = settings, on_infra_error, mask_value, returns
        self._reset()

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._client: SyncRewardClient | None = None
        self._pid = os.getpid()

    def __getstate__(self) -> dict[str, Any]:
        return {"settings": self.settings, "on_infra_error": self.on_infra_error, "mask_value": self.mask_value,
                "returns": self.returns}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._reset()

    def client(self) -> SyncRewardClient:
        """This process's client (a forked child makes its own: the parent's loop thread
        does not exist in it)."""
        if self._pid != os.getpid():
            self._reset()
        with self._lock:
            if self._client is None:
                self._client = SyncRewardClient(self.settings)
            return self._client

    def _value(self, result: JobResult) -> Any:
        codes = sorted({f.code for f in result.flags})
        if result.reward is None:
            if self.on_infra_error == "raise" or result.status in (Status.INVALID_INPUT, Status.INTERNAL_ERROR):
                raise RuntimeError(f"no reward for this sample: {result.status.value}: {result.error}")
            score = math.nan if self.on_infra_error == "nan" else float(self.mask_value)
        else:
            score = float(result.reward)
        if self.returns == "score":
            return score
        return {"score": score, "status": result.status.value, "flags": ",".join(codes),
                "flag_count": len(codes), "valid": result.reward is not None}

    @staticmethod
    def _batch_jobs(kwargs: dict[str, Any]) -> list[dict[str, Any]]:
        sols = list(kwargs["solution_strs"])
        n = len(sols)

        def column(name: str) -> list[Any]:
            values = kwargs.get(name)
            return [None] * n if values is None else list(values)

        sources, truths, extras = column("data_sources"), column("ground_truths"), column("extra_infos")
        if not len(sources) == len(truths) == len(extras) == n:
            raise ValueError("data_sources, solution_strs, ground_truths and extra_infos differ in length")
        jobs = []
        for i in range(n):
            try:
                jobs.append(ground_truth_job(sources[i], sols[i], truths[i], extras[i]))
            except ValueError as exc:
                raise ValueError(f"sample {i}: {exc}") from None
        return jobs

    def __call__(self, data_source: Any = None, solution_str: Any = None, ground_truth: Any = None,
                 extra_info: Any = None, **kwargs: Any) -> Any:
        if "solution_strs" in kwargs:
            jobs = self._batch_jobs(kwargs)  # before any client exists
            return [self._value(r) for r in self.client().score(jobs)]
        if solution_str is None:
            raise TypeError("compute_score needs solution_str (per sample) or solution_strs (a batch)")
        job = ground_truth_job(data_source, solution_str, ground_truth, extra_info)
        (result,) = self.client().score([job])
        return self._value(result)

    async def acompute_score(self, data_source: Any = None, solution_str: Any = None, ground_truth: Any = None,
                             extra_info: Any = None, **kwargs: Any) -> Any:
        """The same, as a coroutine function: verl's reward loop awaits it on its own event
        loop, so every sample of a worker's chunk is scored at once (the work runs on this
        process's client loop). Pass the bound method, ``compute_score.acompute_score``."""
        if "solution_strs" in kwargs:
            jobs = self._batch_jobs(kwargs)
            return [self._value(r) for r in await self.client().ascore(jobs)]
        if solution_str is None:
            raise TypeError("compute_score needs solution_str (per sample) or solution_strs (a batch)")
        job = ground_truth_job(data_source, solution_str, ground_truth, extra_info)
        (result,) = await self.client().ascore([job])
        return self._value(result)

    def close(self) -> None:
        """Close this process's client now (otherwise it is closed at exit)."""
        with self._lock:
            client, self._client = self._client, None
        if client is not None and self._pid == os.getpid():
            client.close()


def make_verl_compute_score(
    settings: Settings | None = None,
    *,
    on_infra_error: Literal["raise", "nan", "mask"] = "raise",
    mask_value: float = 0.0,
    returns: Literal["dict", "score"] = "dict",
) -> VerlComputeScore:
    """A verl ``compute_score`` for its reward managers (docs/integrations.md).

    Per sample (the naive, dapo and other per-sample managers):
    ``compute_score(data_source, solution_str, ground_truth, extra_info=None, **kwargs)``
    returns a dict. The batch manager's form,
    ``compute_score(data_sources=[...], solution_strs=[...], ground_truths=[...],
    extra_infos=[...], **kwargs)``, scores the whole batch at once (full concurrency) and
    returns a list of dicts, in order. ``compute_score.acompute_score`` is the same as a
    coroutine function (verl's reward loop then scores a chunk's samples at once).
    ``returns="score"`` gives the bare float instead of the dict (verl's ``prime``
    manager needs a number).

    ``ground_truth`` is the test source (pytest), the statement (lean), a JSON object
    with ``tests``/``statement`` and optional ``expected_tests``, or verl's
    ``prime_code`` ground truth ``{"inputs", "outputs", "fn_name"?}`` (an io job,
    docs/io-jobs.md). The kind is ``extra_info["kind"]`` when given, else ``io`` for a
    ground truth with ``inputs`` and ``outputs``, else ``lean`` when ``data_source``
    mentions lean, else ``pytest``. A ground truth of no known shape raises a
    ``ValueError`` that names the shapes expected.

    Every value of the returned dict is a scalar of the same type for every sample
    (verl stacks each key with ``np.array``): ``score`` (float), ``status`` (str),
    ``flags`` (the codes, comma-joined; "" for none), ``flag_count`` (int), ``valid``
    (bool: the score was computed).

    ``on_infra_error``: verl needs a number for every sample. ``"raise"`` (default)
    fails the step, which the trainer can retry; ``"nan"`` scores NaN, **which makes the
    GRPO advantage of every sample in its group NaN** (its mean and std are taken over
    the group): only for trainers that drop non-finite rewards themselves; ``"mask"``
    scores ``mask_value`` with ``valid=False`` so the trainer can filter on
    ``reward_extra_info["valid"]``. Invalid input always raises.

    The result pickles; each process makes its own client at its first call, which is
    closed at exit (``compute_score.close()`` closes it earlier). See
    :class:`VerlComputeScore`.
    """
    return VerlComputeScore(settings, on_infra_error, mask_value, returns)
