"""Informed consent before the first measurement: what is measured, what is shared, the risks.

Consent is recorded in the settings file with its version; `--yes` accepts it for unattended use.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from probe.config import ConfigFile
from probe.errors import ConsentRequired

CONSENT_VERSION = 1

CONSENT_TEXT = """\
Crenel measures whether websites are blocked from your network.

What it does: for each URL it looks the name up through your resolver and public resolvers,
connects to the site's addresses, and fetches the page, exactly as a browser would. It asks a
control server outside your network to do the same, to tell censorship from a broken site.

What is shared: if you configure a collector, each measurement is uploaded and PUBLISHED: the
URL, what happened on the network, your country and your network (AS number). Your IP address
is removed from everything before it leaves this computer.

The risks: anyone watching your network (your ISP, your employer, the government) can see that
you visit the tested sites, some of which may be illegal or objectionable where you live, and may
be able to tell that you run a measurement tool. In some countries that can have legal or
personal consequences. Only run Crenel if you accept these risks.
"""

QUIZ: tuple[tuple[str, bool, str], ...] = (
    (
        "Others watching my network can see that I test the listed websites. (true/false)",
        True,
        "True: your ISP and anyone on the path can see the connections Crenel makes.",
    ),
    (
        "Measurements I upload are kept private. (true/false)",
        False,
        "False: uploaded measurements are published openly (without your IP address).",
    ),
)


def has_consent(settings: ConfigFile) -> bool:
    """Return whether the current consent version was accepted."""
    return int(settings.read().get("consent_version", 0) or 0) >= CONSENT_VERSION


def record_consent(settings: ConfigFile) -> None:
    """Write the accepted consent version and time to the settings file."""
    table = settings.read()
    table["consent_version"] = CONSENT_VERSION
    table["consent_at"] = datetime.now(UTC).replace(microsecond=0).isoformat()
    settings.write(table)


def ensure_consent(
    settings: ConfigFile,
    *,
    assume_yes: bool,
    interactive: bool,
    ask: Callable[[str], str],
    say: Callable[[str], None],
) -> None:
    """Return once consent is on record, asking for it when possible.

    Raises:
        ConsentRequired: not interactive and no `--yes`, or the user declined.
    """
    if has_consent(settings):
        return
    if assume_yes:
        record_consent(settings)
        return
    if not interactive:
        raise ConsentRequired()
    say(CONSENT_TEXT)
    for question, truth, explanation in QUIZ:
        answer = ask(question + " ").strip().lower()
        if answer not in ("true", "false", "t", "f"):
            raise ConsentRequired("consent not given: please answer true or false")
        if (answer in ("true", "t")) != truth:
            say("Not quite. " + explanation)
        else:
            say("Right. " + explanation)
    if ask("Do you understand the risks and want to run Crenel? (yes/no) ").strip().lower() not in (
        "y",
        "yes",
    ):
        raise ConsentRequired("consent not given; nothing was measured")
    record_consent(settings)
