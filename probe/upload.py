"""Upload measurements from the local store (the durable outbox) to the collector.

Batches are NDJSON, gzip-compressed. A measurement is marked uploaded only when a 2xx answer
lists its uid; on a network failure it stays pending for the next run or `crenel-probe upload`.
Retries back off exponentially, bounded in count and time. A measurement the collector refuses
(4xx) is recorded as failed and skipped, so it cannot block the rest of the outbox.
"""

from __future__ import annotations

import contextlib
import gzip
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import partial
from typing import TypeVar

import httpx
import msgspec
import trio

from probe.errors import CollectorUnreachable
from probe.store import Store

logger = logging.getLogger(__name__)

INGEST_PATH = "/api/v1/measurements"
T = TypeVar("T")
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class UploadPolicy:
    """How hard to try: batch size, attempts per batch, backoff and overall time."""

    batch_size: int = 50
    attempts: int = 4
    first_backoff_s: float = 1.0
    max_backoff_s: float = 30.0
    request_timeout_s: float = 60.0
    deadline_s: float = 300.0


@dataclass
class UploadSummary:
    """What one pass over the outbox did."""

    uploaded: int = 0
    refused: list[tuple[str, str]] = field(default_factory=list)
    """(uid, why) of measurements the collector refused."""


class _Ack(msgspec.Struct):
    uids: list[str]


class _Refusal(msgspec.Struct):
    error: str = "unknown"
    detail: str = ""
    line: int | None = None


class BatchRefused(Exception):
    """The collector answered 4xx to a batch: the body or one of its measurements is invalid."""

    def __init__(self, status: int, refusal: _Refusal) -> None:
        super().__init__(f"HTTP {status} {refusal.error}: {refusal.detail}")
        self.status = status
        self.line = refusal.line


def collector_endpoint(collector_url: str, path: str) -> str:
    """Return the URL of an API path on a collector given by its base URL (or its /api/v1)."""
    base = collector_url.rstrip("/")
    if base.endswith("/api/v1"):
        base = base[: -len("/api/v1")]
    return base + path


def _retry_after(response: httpx.Response, fallback_s: float) -> float:
    value = response.headers.get("retry-after", "")
    return float(value) if value.isdigit() else fallback_s


UploadedCallback = Callable[[list[str]], Awaitable[None]]


class Uploader:
    """Sends a store's pending measurements to one collector."""

    def __init__(
        self,
        store: Store,
        collector_url: str,
        client: httpx.AsyncClient,
        policy: UploadPolicy | None = None,
    ) -> None:
        self.store = store
        self.collector_url = collector_url
        self.endpoint = collector_endpoint(collector_url, INGEST_PATH)
        self.client = client
        self.policy = policy or UploadPolicy()
        self._db = trio.CapacityLimiter(1)

    async def _store(self, call: Callable[[], T]) -> T:
        return await trio.to_thread.run_sync(call, limiter=self._db)

    def _pending(self, limit: int) -> list[tuple[str, bytes]]:
        return list(self.store.pending(limit=limit))

    async def post_batch(self, items: Sequence[tuple[str, bytes]]) -> list[str]:
        """Return the uids of `items` the collector acknowledged as durably stored.

        Raises:
            CollectorUnreachable: no 2xx after every attempt (network errors, 429, 5xx).
            BatchRefused: a 4xx other than 429 (retrying cannot help).
        """
        body = gzip.compress(b"".join(raw.rstrip(b"\n") + b"\n" for _, raw in items), 6)
        headers = {"Content-Type": "application/x-ndjson", "Content-Encoding": "gzip"}
        policy = self.policy
        backoff = policy.first_backoff_s
        reason = "no attempt made"
        for attempt in range(1, policy.attempts + 1):
            wait = backoff
            try:
                with trio.fail_after(policy.request_timeout_s):
                    response = await self.client.post(self.endpoint, content=body, headers=headers)
            except (httpx.HTTPError, trio.TooSlowError, OSError) as exc:
                reason = str(exc) or type(exc).__name__
            else:
                if 200 <= response.status_code < 300:
                    try:
                        ack = msgspec.json.decode(response.content, type=_Ack)
                    except msgspec.DecodeError as exc:
                        reason = f"unreadable acknowledgement: {exc}"
                    else:
                        sent = {uid for uid, _ in items}
                        return [uid for uid in ack.uids if uid in sent]
                elif response.status_code in RETRY_STATUSES:
                    reason = f"HTTP {response.status_code}"
                    wait = max(backoff, _retry_after(response, backoff))
                else:
                    try:
                        refusal = msgspec.json.decode(response.content, type=_Refusal)
                    except msgspec.DecodeError:
                        refusal = _Refusal(detail=response.text[:200])
                    raise BatchRefused(response.status_code, refusal)
            logger.info("upload attempt %d to %s failed: %s", attempt, self.endpoint, reason)
            if attempt < policy.attempts:
                await trio.sleep(min(wait, policy.max_backoff_s))
                backoff = min(backoff * 2, policy.max_backoff_s)
        raise CollectorUnreachable(
            f"the collector at {self.collector_url} is unreachable: {reason}"
        )

    async def _send(
        self, items: list[tuple[str, bytes]], summary: UploadSummary, skip: set[str]
    ) -> list[str]:
        """Return the acknowledged uids, refusing measurements one by one until the rest pass."""
        acked: list[str] = []
        queue = [items]
        for _ in range(4 * len(items) + 4):  # each round acknowledges or splits or skips
            if not queue:
                break
            batch = queue.pop()
            try:
                acked.extend(await self.post_batch(batch))
            except BatchRefused as refused:
                culprit: int | None = None
                if refused.line is not None and 1 <= refused.line <= len(batch):
                    culprit = refused.line - 1
                elif len(batch) == 1:
                    culprit = 0
                if culprit is None:
                    middle = len(batch) // 2
                    queue.extend([batch[middle:], batch[:middle]])
                    continue
                uid = batch[culprit][0]
                why = str(refused)
                skip.add(uid)
                summary.refused.append((uid, why))
                await self._store(partial(self.store.mark_failed, [uid], f"refused: {why}"))
                rest = batch[:culprit] + batch[culprit + 1 :]
                if rest:
                    queue.append(rest)
        return acked

    async def upload_pending(self, *, on_uploaded: UploadedCallback | None = None) -> UploadSummary:
        """Upload everything pending in the store and return what happened.

        Raises:
            CollectorUnreachable: the collector could not be reached (the rest stays pending).
        """
        summary = UploadSummary()
        skip: set[str] = set()
        size = max(1, self.policy.batch_size)
        pending = await self._store(lambda: self.store.count(pending_only=True))
        with trio.move_on_after(self.policy.deadline_s):
            for _ in range(pending + pending // size + 2):
                rows = await self._store(partial(self._pending, len(skip) + size))
                assert isinstance(rows, list)
                items = [(uid, raw) for uid, raw in rows if uid not in skip][:size]
                if not items:
                    break
                try:
                    acked = await self._send(items, summary, skip)
                except CollectorUnreachable as exc:
                    failed = [u for u, _ in items]
                    await self._store(partial(self.store.mark_failed, failed, exc.message))
                    raise
                if acked:
                    when = datetime.now(UTC).isoformat()
                    await self._store(partial(self.store.mark_uploaded, acked, when))
                    summary.uploaded += len(acked)
                    if on_uploaded is not None:
                        await on_uploaded(acked)
                missing = {u for u, _ in items} - set(acked) - skip
                skip.update(missing)  # a 2xx that omits a uid: try it again next time
        return summary


class BackgroundUploader:
    """Uploads while a run measures: woken after each stored measurement, never blocking it.

    It gathers up to `gather_count` measurements or `gather_s` seconds per upload. After a
    failure it stays quiet for `cooldown_s` (measurements wait in the outbox); the run flushes
    what is left at the end with `finish`.
    """

    def __init__(
        self,
        uploader: Uploader,
        *,
        capacity: int = 64,
        cooldown_s: float = 30.0,
        gather_s: float = 2.0,
        gather_count: int = 25,
    ) -> None:
        self.uploader = uploader
        self.cooldown_s = cooldown_s
        self.gather_s = gather_s
        self.gather_count = gather_count
        self.uploaded = 0
        self.refused: list[tuple[str, str]] = []
        self.last_error: str | None = None
        self._send, self._receive = trio.open_memory_channel[None](capacity)
        self._resume_at = 0.0

    def notify(self) -> None:
        """Say a measurement was stored (dropped if a wake-up is already queued)."""
        with contextlib.suppress(trio.WouldBlock, trio.ClosedResourceError):
            self._send.send_nowait(None)

    def pause(self, reason: str) -> None:
        """Start in (or return to) the quiet period, e.g. when the collector already failed."""
        self.last_error = reason
        self._resume_at = trio.current_time() + self.cooldown_s

    async def _pass(self, uploader: Uploader | None = None) -> None:
        try:
            summary = await (uploader or self.uploader).upload_pending()
        except CollectorUnreachable as exc:
            self.last_error = exc.message
            self._resume_at = trio.current_time() + self.cooldown_s
            return
        self.uploaded += summary.uploaded
        self.refused.extend(summary.refused)
        self.last_error = None

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Upload whenever notified, until `close` is called."""
        task_status.started()
        async with self._receive:
            async for _ in self._receive:
                # Gather a few measurements first: fewer, larger uploads cost the collector far
                # less than one request per measurement.
                gathered = 1
                with trio.move_on_after(self.gather_s):
                    while gathered < self.gather_count:
                        try:
                            await self._receive.receive()
                        except trio.EndOfChannel:
                            break
                        gathered += 1
                if trio.current_time() >= self._resume_at:
                    await self._pass()

    async def close(self) -> None:
        """Stop taking notifications; `run` returns after its current pass."""
        await self._send.aclose()

    async def finish(self) -> None:
        """Upload whatever is still pending, within the uploader's deadline.

        After a recent failure a single attempt is made: the outbox keeps the rest for
        `crenel-probe upload`, and the run ends without waiting through backoffs.
        """
        uploader = self.uploader
        if self.last_error is not None:
            policy = replace(uploader.policy, attempts=1)
            uploader = Uploader(uploader.store, uploader.collector_url, uploader.client, policy)
        await self._pass(uploader)
