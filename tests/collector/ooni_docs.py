"""Small OONI Web Connectivity documents (data format 0.2.0) for the importer's tests."""

from __future__ import annotations

from typing import Any

BLOCKPAGE = "<html><head><title>Access denied</title></head><body>blocked by order</body></html>"
SITE = "<html><head><title>Daily News of the World</title></head><body>" + "news " * 300 + "</body>"


def ooni_doc(
    host: str = "news.example.org",
    *,
    uid: str | None = "20261101000000.000000_IT_webconnectivity_0123456789abcdef",
    cc: str = "IT",
    asn: str = "AS64500",
    blocked: bool = False,
    start: str = "2026-11-01 10:00:00",
    probe_ip: str = "127.0.0.1",
    report_id: str = "20261101T100000Z_webconnectivity_IT_64500_n1_abcdefgh",
) -> dict[str, Any]:
    """Return one OONI measurement of http://host/: reachable, or answered by a blockpage."""
    body = BLOCKPAGE if blocked else SITE
    doc: dict[str, Any] = {
        "annotations": {"platform": "linux"},
        "data_format_version": "0.2.0",
        "input": f"http://{host}/",
        "measurement_start_time": start,
        "probe_asn": asn,
        "probe_cc": cc,
        "probe_ip": probe_ip,
        "probe_network_name": "Example Net",
        "report_id": report_id,
        "resolver_asn": asn,
        "resolver_ip": "198.51.100.53",
        "resolver_network_name": "Example Net",
        "software_name": "ooniprobe-cli",
        "software_version": "3.22.0",
        "test_keys": {
            "queries": [
                {
                    "answers": [{"answer_type": "A", "ipv4": "192.0.2.10", "asn": 64501}],
                    "engine": "getaddrinfo",
                    "failure": None,
                    "hostname": host,
                    "query_type": "A",
                    "resolver_address": "",
                    "t0": 0.001,
                    "t": 0.02,
                    "tags": ["depth=0"],
                }
            ],
            "tcp_connect": [
                {
                    "ip": "192.0.2.10",
                    "port": 80,
                    "status": {"success": True, "failure": None},
                    "t0": 0.02,
                    "t": 0.05,
                    "tags": ["depth=0", "fetch_body=true"],
                }
            ],
            "tls_handshakes": [],
            "requests": [
                {
                    "address": "192.0.2.10:80",
                    "failure": None,
                    "request": {"url": f"http://{host}/", "method": "GET", "headers_list": []},
                    "response": {
                        "code": 200 if not blocked else 403,
                        "body": body,
                        "body_is_truncated": False,
                        "headers_list": [["Content-Type", "text/html"]],
                    },
                    "t0": 0.05,
                    "t": 0.09,
                    "tags": ["depth=0"],
                }
            ],
            "control": {
                "tcp_connect": {"192.0.2.10:80": {"status": True, "failure": None}},
                "http_request": {
                    "body_length": len(SITE),
                    "failure": None,
                    "title": "Daily News of the World",
                    "headers": {"Content-Type": "text/html"},
                    "status_code": 200,
                },
                "dns": {"failure": None, "addrs": ["192.0.2.10"]},
                "ip_info": {"192.0.2.10": {"asn": 64501, "flags": 11}},
            },
            "control_failure": None,
            "blocking": "http-diff" if blocked else False,
            "accessible": not blocked,
        },
        "test_name": "web_connectivity",
        "test_runtime": 0.5,
        "test_start_time": start,
        "test_version": "0.5.28",
    }
    if uid is not None:
        doc["measurement_uid"] = uid
    return doc
