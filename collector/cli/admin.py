"""Admin requests to a running collector over HTTP (`--url` with `--admin-token-file`)."""

from __future__ import annotations

from pathlib import Path

import httpx

from collector.cli.errors import EXIT_UNREACHABLE, CliError
from collector.config import read_admin_token
from collector.core.errors import ConfigInvalid

ADMIN_TIMEOUT_S = 600.0


async def post_admin(url: str, token_file: str | None, path: str, body: bytes) -> bytes:
    """POST `body` to `path` on the collector at `url` with the admin token; return the reply body.

    Opens and closes its own HTTP client.

    Raises:
        CliError: no or a bad token file, the collector is unreachable (exit code 3), or it
            refused the request.
    """
    if not token_file:
        raise CliError("--url needs --admin-token-file")
    try:
        token = read_admin_token(Path(token_file))
    except ConfigInvalid as exc:
        raise CliError(exc.detail) from exc
    target = url.rstrip("/") + path
    try:
        async with httpx.AsyncClient(trust_env=False, timeout=ADMIN_TIMEOUT_S) as client:
            response = await client.post(
                target,
                content=body,
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            )
    except httpx.HTTPError as exc:
        raise CliError(f"cannot reach the collector at {url}: {exc}", EXIT_UNREACHABLE) from exc
    if response.status_code != 200:
        raise CliError(f"the collector refused: HTTP {response.status_code} {response.text}")
    return response.content
