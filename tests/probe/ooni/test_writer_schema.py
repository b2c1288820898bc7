"""Crenel measurements written in OONI's format are valid against a JSON Schema of OONI's spec.

The schema (`web_connectivity.schema.json`, draft 2020-12) states what OONI's spec documents
require of a `web_connectivity` measurement; each part cites the document it comes from.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from probe.analysis import RULES, analyse
from probe.model import Failure, Measurement, ResolverKind
from probe.ooni import measurement_from_ooni, ooni_from_measurement
from tests.probe.analysis.build import World, control_page, healthy, page_response
from tests.probe.analysis.test_analyse import VAGUE, _world_for_rule

SCHEMA = json.loads(Path(__file__).with_name("web_connectivity.schema.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)
ADDRESSES = ("198.51.100.10", "203.0.113.7", "192.0.2.44", "2001:db8::10")
FAILURES = (None, *[f.value for f in Failure][:12])


def ooni_document(measurement: Measurement) -> dict[str, Any]:
    """Return the measurement, analysed, as the JSON OONI's tools would read."""
    analysed = msgspec.structs.replace(measurement, analysis=analyse(measurement, VAGUE))
    document: dict[str, Any] = json.loads(json.dumps(ooni_from_measurement(analysed)))
    return document


def errors(document: dict[str, Any]) -> list[str]:
    """Return the schema's complaints about a document, each with its JSON path."""
    return [f"{e.json_path}: {e.message}" for e in VALIDATOR.iter_errors(document)]


def test_the_schema_is_a_valid_draft_2020_12_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


@pytest.mark.parametrize("rule_id", sorted(RULES))
def test_a_measurement_where_a_rule_fires_is_valid_ooni(rule_id: str) -> None:
    assert errors(ooni_document(_world_for_rule(rule_id).build())) == []


@pytest.mark.parametrize(
    "world",
    [
        healthy("http://news.example.test/"),
        healthy("https://news.example.test/"),
        healthy("https://news.example.test/").control_unreachable(),
        World(url="https://empty.example.test/"),
    ],
    ids=["healthy-http", "healthy-https", "control-unreachable", "nothing-measured"],
)
def test_lab_like_measurements_are_valid_ooni(world: World) -> None:
    assert errors(ooni_document(world.build())) == []


@st.composite
def worlds(draw: st.DrawFn) -> World:
    """Return a measurement of random steps: lookups, connects, handshakes, fetches, control."""
    scheme = draw(st.sampled_from(["http", "https"]))
    world = World(url=f"{scheme}://site.example.test/")
    for _ in range(draw(st.integers(0, 3))):
        failure = draw(st.sampled_from(FAILURES))
        found = [] if failure else draw(st.lists(st.sampled_from(ADDRESSES), max_size=3))
        kind = draw(st.sampled_from(list(ResolverKind)))
        world.lookup(kind, *found, failure=failure)
    for _ in range(draw(st.integers(0, 3))):
        address = draw(st.sampled_from(ADDRESSES))
        world.connect(address, failure=draw(st.sampled_from(FAILURES)))
        if draw(st.booleans()):
            world.handshake(address, failure=draw(st.sampled_from(FAILURES)))
    for depth in range(draw(st.integers(0, 2))):
        address = draw(st.sampled_from(ADDRESSES))
        failure = draw(st.sampled_from(FAILURES))
        status = draw(st.sampled_from([200, 302, 403, 451]))
        body = draw(st.sampled_from([b"", b"<title>Blocked</title>", b"\xff\xfe binary"]))
        response = page_response(body.decode("latin-1").encode(), status=status, title=None)
        world.fetch(
            address,
            None if failure else response,
            failure=failure,
            stage="tcp" if failure else "ok",
            depth=depth,
        )
    control = draw(st.sampled_from(["none", "ok", "failed-fetch", "unreachable"]))
    if control == "ok":
        world.with_control(addresses=tuple(draw(st.lists(st.sampled_from(ADDRESSES)))))
    elif control == "failed-fetch":
        world.with_control(
            http=control_page(status_code=None, body_length=None, failure="connection_reset")
        )
    elif control == "unreachable":
        world.control_unreachable()
    return world


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(worlds())
def test_random_measurements_are_valid_ooni(world: World) -> None:
    assert errors(ooni_document(world.build())) == []


def test_ooni_corpus_measurements_read_and_written_back_are_valid(shared_data: Path) -> None:
    """OONI's own measurements, read into Crenel's model and written out again, stay valid."""
    paths = sorted((shared_data / "ooni-corpus").glob("*/*/measurement.json"))
    paths += sorted((shared_data / "ooni-corpus").glob("*/measurement.json"))
    assert paths, "the corpus has no measurement.json"
    for path in paths[:200]:
        measurement = measurement_from_ooni(json.loads(path.read_text()))
        assert errors(ooni_document(measurement)) == [], path


def _valid() -> dict[str, Any]:
    return ooni_document(healthy("https://news.example.test/").build())


MUTATIONS = {
    "no-test-keys": lambda d: d.pop("test_keys"),
    "no-report-id": lambda d: d.pop("report_id"),
    "asn-without-prefix": lambda d: d.update(probe_asn="64496"),
    "start-time-rfc3339": lambda d: d.update(measurement_start_time="2026-11-26T00:00:00Z"),
    "runtime-as-text": lambda d: d.update(test_runtime="0.1"),
    "other-test-name": lambda d: d.update(test_name="http_requests"),
    "no-queries": lambda d: d["test_keys"].pop("queries"),
    "answers-null": lambda d: d["test_keys"]["queries"][0].update(answers=None),
    "unknown-engine": lambda d: d["test_keys"]["queries"][0].update(engine="magic"),
    "ttl-as-text": lambda d: d["test_keys"]["queries"][0]["answers"][0].update(ttl="60"),
    "port-as-text": lambda d: d["test_keys"]["tcp_connect"][0].update(port="80"),
    "success-with-failure": lambda d: d["test_keys"]["tcp_connect"][0]["status"].update(
        failure="connection_reset", success=True
    ),
    "tls-without-tags": lambda d: d["test_keys"]["tls_handshakes"][0].pop("tags"),
    "response-without-code": lambda d: d["test_keys"]["requests"][0]["response"].pop("code"),
    "body-null": lambda d: d["test_keys"]["requests"][0]["response"].update(body=None),
    "binary-body-hex": lambda d: d["test_keys"]["requests"][0]["response"].update(
        body={"format": "hex", "data": "00"}
    ),
    "no-tor-info": lambda d: d["test_keys"]["requests"][0]["request"].pop("tor"),
    "blocking-made-up": lambda d: d["test_keys"].update(blocking="censored"),
    "blocking-while-accessible": lambda d: d["test_keys"].update(blocking="http-diff"),
    "dns-consistency-made-up": lambda d: d["test_keys"].update(dns_consistency="maybe"),
    "control-without-dns": lambda d: d["test_keys"]["control"].pop("dns"),
    "control-status-code-text": lambda d: d["test_keys"]["control"]["http_request"].update(
        status_code="200"
    ),
}


def test_the_unmutated_document_is_valid() -> None:
    document = _valid()
    assert document["test_keys"]["queries"][0]["answers"], "mutations below need an answer"
    assert document["test_keys"]["tls_handshakes"] and document["test_keys"]["requests"]
    assert document["test_keys"]["accessible"] is True
    assert errors(document) == []


@pytest.mark.parametrize("mutate", MUTATIONS.values(), ids=MUTATIONS.keys())
def test_a_document_that_breaks_the_spec_is_rejected(mutate: Any) -> None:
    document = copy.deepcopy(_valid())
    mutate(document)
    assert errors(document) != []
