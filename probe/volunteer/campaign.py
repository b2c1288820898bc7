"""A volunteer's campaign (`crenel-probe run`): where am I (geolookup), what to measure (a list
or the collector's check-in), then measure it all, storing each measurement and uploading it in
the background as it completes.

Prints nothing: the caller hears of each measurement through callbacks and renders the outcome.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
import trio

from probe.batch import BatchSummary, measure_batch
from probe.checkin import FingerprintOffer, NetworkInfo, check_in
from probe.config import ProbeConfig, with_overrides
from probe.errors import BadInputError, FingerprintSetRefused
from probe.fingerprint_updates import update_fingerprint_set
from probe.measure import MeasureSession
from probe.model import Measurement, ProbeNetwork
from probe.privacy import own_addresses
from probe.references import active_set
from probe.store import AsyncStore, Store
from probe.testlists import ListEntry, parse_url_list
from probe.upload import BackgroundUploader, Uploader, UploadPolicy
from probe.volunteer.preparation import local_network, locate, open_session

DEFAULT_CHECKIN_URLS = 100
NOTHING_TO_MEASURE = (
    "nothing to measure: give --list FILE, or set a collector "
    "(crenel-probe config set collector URL) to get a list at check-in"
)


def campaign_upload_policy() -> UploadPolicy:
    """Return the upload policy during a campaign: it gives up sooner than `upload`, and what
    is left stays in the outbox for `upload`."""
    return UploadPolicy(attempts=3, deadline_s=60.0, max_backoff_s=10.0)


def read_list(path: Path, limit: int | None) -> list[ListEntry]:
    """Return the list's entries (the first `limit` of them).

    Raises:
        BadInputError: the file cannot be read or holds no URL.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInputError(f"cannot read the list {path}: {exc}") from exc
    entries = parse_url_list(text, str(path))
    if limit is not None:
        entries = entries[:limit]
    return entries


@dataclass(frozen=True)
class CampaignRequest:
    """What the volunteer asked for."""

    list_path: Path | None = None
    limit: int | None = None
    categories: Sequence[str] = ()
    upload: bool = True


@dataclass(frozen=True)
class CampaignPlan:
    """What a campaign measures, from where, with which settings."""

    config: ProbeConfig
    """The settings, with the check-in's control when none was configured."""
    entries: list[ListEntry]
    network: ProbeNetwork
    located: NetworkInfo | None
    """The collector's geolookup answer (None without a collector or an answer)."""


@dataclass(frozen=True)
class CampaignOutcome:
    """How a campaign went: the batch, what is left to upload, the background uploads."""

    summary: BatchSummary
    pending: int
    uploads: BackgroundUploader | None


async def plan_campaign(
    config: ProbeConfig,
    client: httpx.AsyncClient | None,
    request: CampaignRequest,
    *,
    warn: Callable[[str], None],
    say: Callable[[str], None] = lambda _line: None,
) -> CampaignPlan:
    """Return what to measure: geolookup first (needed without a list), then the list or the
    collector's check-in.

    Raises:
        BadInputError: nothing to measure, a bad limit, or an unreadable list.
        CollectorUnreachable: the collector does not answer and the campaign needs it.
    """
    if request.limit is not None and request.limit < 1:
        raise BadInputError("--limit must be at least 1")
    if request.list_path is None and (client is None or config.collector_url is None):
        raise BadInputError(NOTHING_TO_MEASURE)
    located = await locate(client, config, needed=request.list_path is None, warn=warn)
    network = local_network(config, own_addresses()) or (
        located.network if located else ProbeNetwork()
    )
    if request.list_path is not None:
        entries = read_list(request.list_path, request.limit)
        return CampaignPlan(config, entries, network, located)
    assert client is not None and config.collector_url is not None
    answer = await check_in(
        client,
        config.collector_url,
        network=network,
        categories=list(request.categories),
        limit=request.limit or DEFAULT_CHECKIN_URLS,
    )
    if answer.fingerprints is not None:
        await take_fingerprint_set(client, config, answer.fingerprints, warn=warn, say=say)
    if not answer.entries:
        raise BadInputError(
            "the collector's check-in returned no URLs (has it imported test lists?)"
        )
    if config.control_url is None:
        config = with_overrides(config, control_url=answer.control_url)
    return CampaignPlan(config, answer.entries, network, located)


async def take_fingerprint_set(
    client: httpx.AsyncClient,
    config: ProbeConfig,
    offer: FingerprintOffer,
    *,
    warn: Callable[[str], None],
    say: Callable[[str], None],
) -> None:
    """Fetch and keep the collector's fingerprint set when it is newer than the one in use;
    return nothing. A refusal goes to `warn` (the old set stays), a new set to `say`."""
    assert config.collector_url is not None
    current = await trio.to_thread.run_sync(active_set, config.data_dir)
    try:
        used = await update_fingerprint_set(
            client, config.collector_url, offer, current, config.data_dir
        )
    except FingerprintSetRefused as exc:
        warn(f"{exc.message}; keeping set {current.version}")
        return
    if used is not current:
        say(f"fingerprint set {used.version} from the collector (was {current.version})")


async def run_campaign(
    plan: CampaignPlan,
    client: httpx.AsyncClient | None,
    *,
    upload: bool,
    on_result: Callable[[Measurement], None],
    on_skip: Callable[[ListEntry, str], None],
    say: Callable[[str], None],
) -> CampaignOutcome:
    """Measure the plan's entries, store each measurement and upload it in the background.

    `on_result` hears of each stored measurement, `on_skip` of each URL that could not be
    measured; `say` gets the lines about packet evidence. Owns and closes its store, outbox,
    uploader and measuring session.
    """
    config = plan.config
    extra = [plan.located.address] if plan.located and plan.located.address else []
    uploads: BackgroundUploader | None = None
    with Store(config.store_path) as store:
        saver = AsyncStore(store)

        async def keep(measurement: Measurement) -> None:
            await saver.add(measurement)
            if uploads is not None:
                uploads.notify()
            on_result(measurement)

        async def skipped(entry: ListEntry, why: str) -> None:
            on_skip(entry, why)

        with Store(config.store_path) as outbox:
            if client is not None and config.collector_url is not None and upload:
                uploader = Uploader(outbox, config.collector_url, client, campaign_upload_policy())
                uploads = BackgroundUploader(uploader)
                if plan.located is None:
                    uploads.pause("the collector did not answer the geolookup")
            session = open_session(config, say=say, network=plan.network, extra_addresses=extra)
            async with session:
                summary = await _measure_and_upload(session, plan, uploads, keep, skipped)
        pending = store.count(pending_only=True)
    return CampaignOutcome(summary, pending, uploads)


async def _measure_and_upload(
    session: MeasureSession,
    plan: CampaignPlan,
    uploads: BackgroundUploader | None,
    keep: Callable[[Measurement], Awaitable[None]],
    skipped: Callable[[ListEntry, str], Awaitable[None]],
) -> BatchSummary:
    """Return the batch summary, with the background uploads running alongside."""
    config = plan.config
    async with trio.open_nursery() as nursery:
        if uploads is not None:
            await nursery.start(uploads.run)
        summary = await measure_batch(
            session,
            plan.entries,
            concurrency=config.concurrency,
            per_host=config.per_host,
            max_runtime_s=config.max_runtime_s,
            on_result=keep,
            on_skip=skipped,
        )
        if uploads is not None:
            await uploads.close()
    if uploads is not None:
        await uploads.finish()
    return summary
