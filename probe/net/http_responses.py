"""Pure readers of HTTP results: a page's title and the redirect a response asks for.

Pure: no I/O. The driver (probe.measure) decides whether to follow a redirect.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from probe.model.failures import Failure
from probe.model.observations import HttpTransaction
from probe.net.names import parse_web_url

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
MAX_TITLE_CHARS = 512

_TITLE = re.compile(r"<title[^>]*>(.*?)</title\s*>", re.IGNORECASE | re.DOTALL)
_CHARSET = re.compile(r"""charset\s*=\s*["']?([A-Za-z0-9._:-]+)""", re.IGNORECASE)


def extract_title(body_prefix: bytes, content_type: str | None) -> str | None:
    """Return the text of the first `<title>` element, whitespace collapsed, at most 512 chars.

    Decodes with the charset of `content_type`, else (or if unknown) UTF-8, replacing bad bytes.
    Returns None when there is no complete `<title>...</title>`.
    """
    text = _decode(body_prefix, _charset(content_type))
    match = _TITLE.search(text)
    if match is None:
        return None
    return " ".join(html.unescape(match.group(1)).split())[:MAX_TITLE_CHARS]


@dataclass(frozen=True, slots=True)
class RedirectTarget:
    """Where a redirect leads: exactly one of `url` (absolute, IDNA host) and `failure` is set."""

    url: str | None = None
    failure: Failure | None = None


def redirect_target(transaction: HttpTransaction) -> RedirectTarget | None:
    """Return the next hop a 301/302/303/307/308 response with a Location header asks for.

    Returns None for any other response. A Location that does not resolve to an http(s) URL with
    a valid host gives `RedirectTarget(failure=Failure.HTTP_INVALID_REDIRECT_LOCATION)`.
    """
    response = transaction.response
    if response is None or response.status_code not in REDIRECT_STATUSES:
        return None
    location = next((value for name, value in response.headers if name.lower() == "location"), None)
    if location is None:
        return None
    location = location.strip()
    try:
        # RFC 3986 section 5.2.2 (strict): a reference with a scheme is taken as it is, even
        # when the scheme equals the base's (urljoin would treat "https://" as relative).
        has_scheme = bool(urlsplit(location).scheme)
        absolute = location if has_scheme else urljoin(transaction.url, location)
        return RedirectTarget(url=parse_web_url(absolute).url)
    except ValueError:
        return RedirectTarget(failure=Failure.HTTP_INVALID_REDIRECT_LOCATION)


def _charset(content_type: str | None) -> str | None:
    """Return the charset parameter of a Content-Type value, if any."""
    if not content_type:
        return None
    match = _CHARSET.search(content_type)
    return match.group(1) if match else None


def _decode(data: bytes, charset: str | None) -> str:
    """Return `data` decoded with `charset`, falling back to UTF-8; bad bytes are replaced."""
    if charset:
        try:
            return data.decode(charset, errors="replace")
        except LookupError:  # unknown or non-text codec name sent by the server
            pass
    return data.decode("utf-8", errors="replace")
