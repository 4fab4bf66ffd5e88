"""The server's metrics endpoint (--metrics, issue 10), scraped the way Prometheus
does and read with real Prometheus parsers: the prometheus_client library's
OpenMetrics and text-format parsers, and `promtool check metrics` when the
`prometheus` Debian package is installed. Each value is checked against the traffic
the test made."""

import shutil
import subprocess
import time
import urllib.request

import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families as parse_text

from minmax_ref import Connection

OPENMETRICS = "application/openmetrics-text; version=1.0.0"


def metrics_url(server):
    for line in server.log:
        if "metrics on http://" in line:
            return line.split("metrics on ", 1)[1].split()[0]
    raise AssertionError("no metrics line in the log: %s" % "".join(server.log))


def scrape(url, accept=None):
    request = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    with urllib.request.urlopen(request, timeout=20) as response:
        return response.headers["Content-Type"], response.read().decode("utf-8")


def samples(families):
    """{(sample name, frozenset of labels): value} over every family."""
    return {(s.name, frozenset(s.labels.items())): s.value for family in families for s in family.samples}


def traffic(port):
    """One recorded session, one quit session, a duplicate id, an unknown op, an invalid frame."""
    first = Connection(port)
    assert first.exchange({"op": "START", "client_id": "m1", "cipher": None}) is not None
    for number in (4, -2, 9):
        first.exchange({"op": "NUMBER", "number": number})
    assert b'"min": -2' in first.exchange({"op": "STOP"})
    first.exchange({"op": "START", "client_id": "m2"})
    other = Connection(port)
    assert b"Cliente existente" in other.exchange({"op": "START", "client_id": "m2"})
    assert b"desconhecida" in other.exchange({"op": "HELLO"})
    assert b"Mensagem inv" in other.exchange(b"not json")
    first.exchange({"op": "QUIT"})
    first.close()
    other.close()


def test_the_metrics_count_what_happened(minmax_server):
    server = minmax_server("--metrics", "127.0.0.1:0")
    url = metrics_url(server)
    traffic(server.port)
    # A scrape is served by its own thread while the loop runs: wait for the counts
    # of the last requests (no sleep: each scrape is a round trip).
    deadline = time.monotonic() + 20
    while True:
        content_type, body = scrape(url, OPENMETRICS)
        values = samples(parse_openmetrics(body))
        if values.get(("minmax_sessions_ended_total", frozenset({("outcome", "quit")}))) == 1:
            break
        assert time.monotonic() < deadline, body
    assert content_type.startswith("application/openmetrics-text"), content_type

    def value(name, **labels):
        return values[(name, frozenset(labels.items()))]

    assert value("minmax_requests_total", op="START") == 3
    assert value("minmax_requests_total", op="NUMBER") == 3
    assert value("minmax_requests_total", op="STOP") == 1
    assert value("minmax_requests_total", op="QUIT") == 1
    assert value("minmax_requests_total", op="unknown") == 1
    assert value("minmax_requests_total", op="invalid") == 1
    assert value("minmax_errors_total", error="cliente_existente") == 1
    assert value("minmax_errors_total", error="operacao_desconhecida") == 1
    assert value("minmax_errors_total", error="mensagem_invalida") == 1
    assert value("minmax_errors_total", error="dados_insuficientes") == 0
    assert value("minmax_sessions_started_total") == 2
    assert value("minmax_sessions_ended_total", outcome="stop") == 1
    assert value("minmax_report_rows_total") == 1
    assert value("minmax_report_syncs_total") >= 1
    assert value("minmax_report_sync_seconds_count") == value("minmax_report_syncs_total")
    assert value("minmax_report_rows_per_sync_sum") == 1
    assert value("minmax_connections_accepted_total") == 2
    assert value("minmax_log_lines_dropped_total") == 0
    assert ("minmax_output_held_bytes", frozenset()) in values


def test_the_text_format_is_served_to_scrapers_that_do_not_ask_for_openmetrics(minmax_server, tmp_path):
    server = minmax_server("--metrics", "127.0.0.1:0")
    traffic(server.port)
    content_type, body = scrape(metrics_url(server))
    assert content_type.startswith("text/plain; version=0.0.4"), content_type
    names = {family.name for family in parse_text(body)}
    assert {"minmax_requests", "minmax_report_sync_seconds", "minmax_connections_open"} <= names
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (Debian package prometheus): text parser only")
    checked = subprocess.run([promtool, "check", "metrics"], input=body, capture_output=True, text=True, timeout=20)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_anything_but_get_metrics_is_refused(minmax_server):
    server = minmax_server("--metrics", "127.0.0.1:0")
    url = metrics_url(server)
    with pytest.raises(urllib.error.HTTPError) as not_found:
        urllib.request.urlopen(url.replace("/metrics", "/other"), timeout=20)
    assert not_found.value.code == 404
    with pytest.raises(urllib.error.HTTPError) as not_allowed:
        urllib.request.urlopen(urllib.request.Request(url, data=b"x", method="POST"), timeout=20)
    assert not_allowed.value.code == 405
