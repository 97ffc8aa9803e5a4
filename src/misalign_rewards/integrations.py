"""Adapters for trainers: a TRL-style async reward function, a verl-style
``compute_score``, and a synchronous client for code that is not async.
docs/integrations.md shows each one running."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractContextManager
from typing import Any, Literal, Self

import anyio.from_thread

from .client import RewardClient
from .outcomes import JobResult, Status
from .settings import Settings

_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[^\n]*\n(.*?)```", re.DOTALL)


def completion_text(completion: Any) -> str:
    """The text of a completion: a string, or a chat message list / message dict (the
    last assistant message's ``content``)."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, dict):
        return str(completion.get("content", ""))
    if isinstance(completion, Sequence):
        for message in reversed(completion):
            if isinstance(message, dict) and message.get("role", "assistant") == "assistant":
                return str(message.get("content", ""))
    raise TypeError(f"cannot read a completion of type {type(completion).__name__}")


def extract_code(text: str, language: str = "python") -> str:
    """The last fenced code block in ``language`` (or unlabelled); the whole text when
    there is none."""
    blocks = [(lang.lower(), body) for lang, body in _FENCE.findall(text)]
    for lang, body in reversed(blocks):
        if lang in (language, "", "py" if language == "python" else language):
            return body
    return text


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
    name: str | None = None,
) -> Callable[..., Awaitable[list[float | None]]]:
    """A TRL-style reward function: ``async (completions, **kwargs) -> list[float | None]``.

    Pytest: each completion's last Python block is the solution; the dataset column
    ``tests_column`` holds the test source. Lean: the completion's last ``lean`` block is
    the proof of ``statement_column``. Io: the completion's last Python block is the
    program, judged on the cases in ``cases_column`` (verl's ``prime_code`` form
    ``{"inputs", "outputs", "fn_name"?}``, a dict or its JSON text). ``None`` marks a sample whose reward could not be
    computed (infrastructure trouble), which TRL treats as missing, never as 0.
    """

    async def reward(completions: Sequence[Any], **kwargs: Any) -> list[float | None]:
        jobs: list[dict[str, Any]] = []
        for i, completion in enumerate(completions):
            text = completion_text(completion)
            if kind == "pytest":
                jobs.append({"kind": "pytest", "solution": extract_code(text, "python"),
                             "tests": _at(kwargs.get(tests_column), i, tests_column)})
            elif kind == "io":
                from .datasets.contest import DatasetRowError, prime_code

                try:
                    jobs.append(prime_code(_at(kwargs.get(cases_column), i, cases_column),
                                           extract_code(text, "python")).model_dump())
                except (DatasetRowError, ValueError) as exc:
                    jobs.append({"kind": "io", "invalid": f"{cases_column}[{i}]: {exc}"})  # its own invalid_input
            else:
                jobs.append({"kind": "lean", "proof": extract_code(text, "lean"),
                             "statement": _at(kwargs.get(statement_column), i, statement_column)})
        async with RewardClient(settings) as client:
            return await client.rewards(jobs)

    reward.__name__ = name or f"misalign_{kind}_reward"
    return reward


class SyncRewardClient(AbstractContextManager["SyncRewardClient"]):
    """A :class:`RewardClient` running on its own event loop in a background thread, for
    code that is not async. ``with SyncRewardClient() as c: c.rewards(batch)``."""

    def __init__(self, settings: Settings | None = None) -> None:
        self._portal_cm = anyio.from_thread.start_blocking_portal()
        self._portal = self._portal_cm.__enter__()
        self._client = RewardClient(settings)
        try:
            self._portal.call(self._client.open)
        except BaseException:
            self._portal_cm.__exit__(None, None, None)
            raise
        self._closed = False

    def score(self, batch: Sequence[Any]) -> list[JobResult]:
        return self._portal.call(self._client.score, batch)

    def rewards(self, batch: Sequence[Any]) -> list[float | None]:
        return self._portal.call(self._client.rewards, batch)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._portal.call(self._client.aclose)
        finally:
            self._portal_cm.__exit__(None, None, None)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def reward_fn_sync(batch: Sequence[Any], *, settings: Settings | None = None) -> list[float | None]:
    """``reward_fn`` for code that is not async (opens a client for the call)."""
    with SyncRewardClient(settings) as client:
        return client.rewards(batch)


def make_verl_compute_score(
    settings: Settings | None = None,
    *,
    on_infra_error: Literal["raise", "nan"] = "raise",
) -> Callable[..., dict[str, Any]]:
    """A verl-style ``compute_score(data_source, solution_str, ground_truth, extra_info=None)``.

    ``ground_truth`` is the test source (pytest) or the theorem statement (lean), or a
    JSON object with ``tests``/``statement`` and optional ``expected_tests``, or verl's
    ``prime_code`` ground truth ``{"inputs", "outputs", "fn_name"?}`` (an io job,
    docs/io-jobs.md). The kind is ``extra_info["kind"]`` when given, else ``io`` for a
    ground truth with ``inputs`` and ``outputs``, else ``lean`` when ``data_source``
    mentions lean, else ``pytest``. Extra keyword arguments verl passes are ignored.
    Returns ``{"score": float, "status": ..., "flags": [...]}``. verl needs a number, so an
    infrastructure error raises (default) or, with ``on_infra_error="nan"``, scores NaN:
    never a silent 0. The function owns one :class:`SyncRewardClient`, opened on the
    first call; call ``compute_score.close()`` when done.
    """
    holder: dict[str, SyncRewardClient] = {}

    def compute_score(data_source: str, solution_str: str, ground_truth: Any,
                      extra_info: dict[str, Any] | None = None, **_: Any) -> dict[str, Any]:
        extra = extra_info or {}
        truth = json.loads(ground_truth) if isinstance(ground_truth, str) and ground_truth.lstrip().startswith("{") \
            else ground_truth
        io_like = isinstance(truth, dict) and "inputs" in truth and "outputs" in truth
        kind = extra.get("kind") or ("io" if io_like else "lean" if "lean" in str(data_source).lower() else "pytest")
        if kind == "io":
            from .datasets.contest import DatasetRowError, prime_code

            try:
                job = prime_code(truth, extract_code(solution_str, "python")).model_dump()
            except (DatasetRowError, ValueError) as exc:
                raise RuntimeError(f"no reward for this sample: the ground truth is not a prime_code one: {exc}") from None
        elif kind == "lean":
            statement = truth["statement"] if isinstance(truth, dict) else truth
            job: dict[str, Any] = {"kind": "lean", "statement": statement, "proof": extract_code(solution_str, "lean")}
        else:
            tests = truth["tests"] if isinstance(truth, dict) else truth
            job = {"kind": "pytest", "tests": tests, "solution": extract_code(solution_str, "python")}
            if isinstance(truth, dict) and truth.get("expected_tests"):
                job["expected_tests"] = truth["expected_tests"]
        if "client" not in holder:
            holder["client"] = SyncRewardClient(settings)
        (result,) = holder["client"].score([job])
        if result.reward is None:
            if on_infra_error == "raise" or result.status is Status.INVALID_INPUT:
                raise RuntimeError(f"no reward for this sample: {result.status.value}: {result.error}")
            score = math.nan
        else:
            score = result.reward
        return {"score": score, "status": result.status.value, "flags": [f.code for f in result.flags]}

    def close() -> None:
        client = holder.pop("client", None)
        if client is not None:
            client.close()

    compute_score.close = close  # type: ignore[attr-defined]
    return compute_score
