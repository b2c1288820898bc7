"""HTTP response comparison with the control, following OONI's Web Connectivity rules.

Pure: no I/O. Body proportion over 0.7 matches (from Jones et al., IMC 2014, as OONI uses it);
headers match on uncommon names; titles match when every word of five or more characters is shared.
"""

from __future__ import annotations

from collections.abc import Iterable

from probe.model import ControlHttp, HttpComparison, HttpResponse

BODY_PROPORTION_MATCH = 0.7

COMMON_HEADERS = frozenset(
    {
        "date",
        "content-type",
        "server",
        "cache-control",
        "vary",
        "set-cookie",
        "location",
        "expires",
        "x-powered-by",
        "content-encoding",
        "last-modified",
        "accept-ranges",
        "pragma",
        "x-frame-options",
        "etag",
        "x-content-type-options",
        "age",
        "via",
        "p3p",
        "x-xss-protection",
        "content-language",
        "cf-ray",
        "strict-transport-security",
        "link",
        "x-varnish",
        "content-length",
        "connection",
        "transfer-encoding",
        "keep-alive",
    }
)
"""Header names so common that sharing them says nothing about sharing a server."""


def _names(headers: Iterable[tuple[str, str]]) -> set[str]:
    return {name.lower() for name, _ in headers}


def headers_match(probe: Iterable[tuple[str, str]], control: Iterable[tuple[str, str]]) -> bool:
    """Return whether two header lists look like one server: equal names or shared rare ones."""
    probe_names, control_names = _names(probe), _names(control)
    if probe_names == control_names:
        return True
    return bool((probe_names - COMMON_HEADERS) & (control_names - COMMON_HEADERS))


def _long_words(title: str) -> set[str]:
    return {word for word in title.lower().split() if len(word.encode()) >= 5}


def title_match(probe: str | None, control: str | None) -> bool | None:
    """Return whether every long title word is shared; None when the probe has no title."""
    if not probe:
        return None
    return _long_words(probe) == _long_words(control or "")


def body_proportion(probe_length: int, control_length: int) -> float | None:
    """Return min(a/b, b/a) of two body lengths, or None when either is zero."""
    if probe_length <= 0 or control_length <= 0:
        return None
    return min(probe_length, control_length) / max(probe_length, control_length)


def status_code_match(probe: int, control: int) -> bool | None:
    """Return whether statuses agree; None when they differ and the control's was not 2xx."""
    if probe == control:
        return True
    if not 200 <= control < 300:
        return None
    return False


def compare_http(probe: HttpResponse, control: ControlHttp) -> HttpComparison:
    """Return the comparison of the probe's final response with the control's."""
    if control.status_code is None or control.failure is not None:
        return HttpComparison()
    proportion: float | None = None
    if probe.body_is_complete and control.body_is_complete and control.body_length is not None:
        proportion = body_proportion(probe.body_length, control.body_length)
    return HttpComparison(
        status_code_match=status_code_match(probe.status_code, control.status_code),
        body_proportion=None if proportion is None else round(proportion, 4),
        body_length_match=None if proportion is None else proportion > BODY_PROPORTION_MATCH,
        headers_match=headers_match(probe.headers, control.headers),
        title_match=title_match(probe.title, control.title),
    )


def is_diff(comparison: HttpComparison) -> bool | None:
    """Return whether the pages differ (OONI's http-diff condition); None when not comparable."""
    if comparison.status_code_match is None:
        return None
    if comparison.status_code_match is False:
        return True
    return not (
        comparison.body_length_match is True
        or comparison.headers_match is True
        or comparison.title_match is True
    )
