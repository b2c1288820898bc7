"""Serve a collector (or the standalone helper) in-process for Hypothesis tests, and the
strategies they draw request bodies and query strings from.

Hypothesis runs each example synchronously, so the app runs in its own `trio.run` in a thread
(lifespan entered, nothing listening) and each request crosses with `trio.from_thread.run` to an
`httpx.AsyncClient` over `httpx.ASGITransport`: no socket, no port, every byte in this process.
"""

from __future__ import annotations

import gzip
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import msgspec
import trio
import zstandard
from hypothesis import reject
from hypothesis import strategies as st
from starlette.applications import Starlette

from probe.model import ControlRequest
from tests.collector.running import measurement

OPENAPI = Path(__file__).resolve().parents[3] / "docs" / "openapi.json"
START_BUDGET_S = 60.0


@dataclass
class InProcessApp:
    """An ASGI app whose lifespan runs in a background trio thread."""

    client: httpx.AsyncClient
    token: trio.lowlevel.TrioToken

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """Return the app's answer to one request."""

        async def send() -> httpx.Response:
            with trio.fail_after(60):
                return await self.client.request(method, url, **kwargs)

        return trio.from_thread.run(send, trio_token=self.token)


@contextmanager
def serve_in_thread(make_app: Callable[[], Starlette]) -> Iterator[InProcessApp]:
    """Run the app's lifespan in a thread; yield a handle to send it requests; stop it on exit."""
    ready = threading.Event()
    box: dict[str, Any] = {}

    async def main() -> None:
        app = make_app()
        stop = trio.Event()
        box["stop"] = stop
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app, client=("192.0.2.50", 40000))
            async with httpx.AsyncClient(
                transport=transport, base_url="http://collector.test"
            ) as client:
                box["app"] = InProcessApp(client=client, token=trio.lowlevel.current_trio_token())
                ready.set()
                await stop.wait()

    def run() -> None:
        try:
            trio.run(main)
        except BaseException as exc:  # handed to the test thread, which raises it
            box["error"] = exc
            ready.set()

    thread = threading.Thread(target=run, name="fuzzed-app", daemon=True)
    thread.start()
    ready.wait(START_BUDGET_S)
    if "error" in box:
        raise box["error"]
    assert "app" in box, "the app did not start in time"
    handle: InProcessApp = box["app"]
    try:
        yield handle
    finally:
        trio.from_thread.run_sync(box["stop"].set, trio_token=handle.token)
        thread.join(START_BUDGET_S)
        if "error" in box:
            raise box["error"]


# --- bodies ---------------------------------------------------------------------------------

GOOD_LINE = msgspec.json.encode(measurement())
INVALID_UTF8 = (b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xe2\x82", b"\x80")

junk_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**40), max_value=10**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=20,
)
"""Nested JSON of any shape, with numbers far beyond 64 bits."""


@st.composite
def almost_valid_line(draw: st.DrawFn) -> bytes:
    """Return a valid measurement's JSON with one thing broken."""
    line = GOOD_LINE
    how = draw(st.sampled_from(["splice", "utf8", "number", "junk-field", "truncate", "escape"]))
    if how == "splice":
        at = draw(st.integers(0, len(line)))
        cut = draw(st.integers(0, 8))
        return line[:at] + draw(st.binary(max_size=8)) + line[at + cut :]
    if how == "utf8":
        # Invalid UTF-8 inside a string value: right after an opening quote.
        quotes = [i for i, b in enumerate(line) if b == ord('"')]
        at = draw(st.sampled_from(quotes)) + 1
        return line[:at] + draw(st.sampled_from(INVALID_UTF8)) + line[at:]
    if how == "number":
        big = draw(st.sampled_from([b"1e999", b"-1e999", b"9" * 400, b"18446744073709551616"]))
        return line.replace(b'"confidence":0.9', b'"confidence":' + big, 1).replace(
            b"{", b'{"t_ms":' + big + b",", 1
        )
    if how == "junk-field":
        value = msgspec.to_builtins(measurement())
        key = draw(st.sampled_from(sorted(value)))
        value[key] = draw(junk_json)
        return msgspec.json.encode(value)
    if how == "escape":
        # A lone surrogate escape is valid JSON text but not a valid string.
        return line.replace(b'"http', b'"\\ud800http', 1)
    return line[: draw(st.integers(0, len(line)))]


@st.composite
def upload_body(draw: st.DrawFn) -> tuple[bytes, dict[str, str]]:
    """Return a hostile body for an upload and its headers (type and encoding)."""
    lines = draw(
        st.lists(
            st.one_of(
                almost_valid_line(),
                st.binary(max_size=64),
                junk_json.map(lambda v: json.dumps(v).encode()),
                st.just(GOOD_LINE),
            ),
            min_size=1,
            max_size=4,
        )
    )
    separator = draw(st.sampled_from([b"\n", b"\r\n", b"\n\n", b" "]))
    body = separator.join(lines)
    content_type = draw(
        st.sampled_from(
            ["application/json", "application/x-ndjson", "text/plain", "application/x+json", ""]
        )
    )
    coding = draw(st.sampled_from(["", "gzip", "zstd", "br", "gzip, gzip"]))
    if coding == "gzip":
        body = gzip.compress(body)
        if draw(st.booleans()):
            body = body[: draw(st.integers(0, len(body)))]
    elif coding == "zstd":
        body = zstandard.ZstdCompressor().compress(body)
    headers = {"content-type": content_type} if content_type else {}
    if coding:
        headers["content-encoding"] = coding
    return body, headers


@st.composite
def control_body(draw: st.DrawFn) -> bytes:
    """Return a hostile control request body (never a valid one: nothing is measured)."""
    good = b'{"url": "https://example.test/", "addresses": ["192.0.2.1"], "ports": [443]}'
    body = draw(
        st.one_of(
            st.binary(max_size=128),
            junk_json.map(lambda v: json.dumps(v).encode()),
            st.sampled_from(INVALID_UTF8).map(lambda b: good.replace(b"example", b + b"x", 1)),
            st.integers(0, len(good)).map(lambda n: good[:n]),
            st.just(good.replace(b"443", b"9" * 50)),
        )
    )
    try:
        msgspec.json.decode(body, type=ControlRequest)
    except (msgspec.DecodeError, UnicodeDecodeError):
        return body
    reject()  # a valid request would make the helper measure: never dial anything from here


# --- query strings ---------------------------------------------------------------------------

query_value = st.one_of(
    st.text(max_size=24),
    st.sampled_from(
        [
            "9999-12-31",
            "0001-01-01",
            "9999-12-31T23:59:59-23:59",
            "0001-01-01T00:00:00+23:59",
            "2026-02-30",
            "2026-12-03T25:00:00Z",
            "1" * 5000,
            "²",
            "٣",
            "-1",
            "0",
            "99999999999999999999",
            "AS4294967296",
            "true",
            "nan",
            "IR",
            "AS12389",
            "country",
            "json",
            "csv",
            "jsonl",
            "2026-01-01",
            "2026-01-20T00:00:00Z",
            "IR,RU,,",
            "%00",
            "\x00",
            "\ud800",
        ]
    ),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
)


time_value = st.one_of(
    st.sampled_from(
        ["9999-12-31", "0001-01-01", "0001-01-01T00:00:00+23:59", "9999-12-31T23:59:59-23:59"]
    ),
    query_value,
    st.dates().map(str),
    st.datetimes(timezones=st.timezones()).map(lambda t: t.isoformat()),
)
"""Dates and times anywhere in datetime's range, with any time zone."""
TIME_PARAMS = frozenset({"since", "until"})


def get_routes() -> list[tuple[str, list[str], list[str]]]:
    """Return (path, query parameter names, path parameter names) of every documented GET."""
    spec = json.loads(OPENAPI.read_text())
    routes = []
    for path, methods in sorted(spec["paths"].items()):
        if "get" not in methods:
            continue
        params = methods["get"].get("parameters", [])
        routes.append(
            (
                path,
                [p["name"] for p in params if p["in"] == "query"],
                [p["name"] for p in params if p["in"] == "path"],
            )
        )
    return routes


PATH_VALUES = {
    "cc": "IR",
    "domain": "news.example.test",
    "uid": "0190a5a4-3c1e-7abc-8def-0123456789ab",
}
"""A valid value for each path parameter, so the query parameters behind it are reached."""


@st.composite
def get_request(draw: st.DrawFn, route: tuple[str, list[str], list[str]]) -> str:
    """Return a GET URL of one documented route with random values for its parameters."""
    path, query_names, path_names = route
    for name in path_names:
        value = draw(st.just(PATH_VALUES.get(name, "x")) | query_value)
        path = path.replace("{" + name + "}", quote(value, safe="", errors="surrogatepass"))
    # Few parameters at a time: one bad value is refused before the others are even looked at.
    chosen = draw(
        st.lists(st.sampled_from(query_names), unique=True, max_size=2)
        if query_names
        else st.just([])
    )
    pairs = []
    for name in chosen:
        value = draw(time_value if name in TIME_PARAMS else query_value)
        pairs.append(f"{quote(name)}={quote(value, safe='', errors='surrogatepass')}")
    return path + ("?" + "&".join(pairs) if pairs else "")
