"""The real minmax-client against a Python server in the assignment's design
(ref_server.py): plain and encrypted sessions, refusals, quitting, and the reply forms
of older deployed servers (docs/PROTOCOL.md section 7)."""

import csv
import json

from conftest import run_client


def report_rows(path):
    with open(path, newline="") as report:
        return list(csv.reader(report))[1:]


def test_a_plain_session(ref_server):
    server = ref_server()
    done = run_client("anton", str(server.port), "127.0.0.1", stdin_text="5 -3 12\n")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "numbers sent (3): 5 -3 12\nmin: -3\nmax: 12\n"
    assert report_rows(server.report) == [["anton", "3", "-3", "12"]]


def test_big_numbers_in_a_plain_session(ref_server):
    server = ref_server()
    big = 10**100
    done = run_client("big", str(server.port), stdin_text="%d %d\n" % (big, -big))
    assert done.returncode == 0, done.stderr
    assert done.stdout.endswith("min: %d\nmax: %d\n" % (-big, big))


def test_an_encrypted_session(ref_server):
    server = ref_server()
    done = run_client("manel", str(server.port), "localhost", "--encrypt",
                      stdin_text="9999999999999999, -999999999999999\n42\n")
    assert done.returncode == 0, done.stderr
    assert done.stdout.endswith("min: -999999999999999\nmax: 9999999999999999\n")
    assert report_rows(server.report) == [["manel", "3", "-999999999999999", "9999999999999999"]]


def test_legacy_stop_replies_with_plain_values_in_an_encrypted_session(ref_server):
    server = ref_server("--legacy")
    for args in ([], ["--encrypt"]):
        done = run_client("legacy", str(server.port), *args, stdin_text="7 -1\n")
        assert done.returncode == 0, done.stderr
        assert done.stdout.endswith("min: -1\nmax: 7\n")


def test_a_refusal_is_exit_3(ref_server):
    server = ref_server()
    done = run_client("empty", str(server.port), stdin_text="stop\n")
    assert done.returncode == 3
    assert "Dados insuficientes" in done.stderr


def test_quit_is_exit_4(ref_server):
    server = ref_server()
    done = run_client("quitter", str(server.port), stdin_text="1 2\nquit\n")
    assert done.returncode == 4
    assert "abandoned" in done.stdout
    assert report_rows(server.report) == []


def test_quiet_and_json_outcomes(ref_server):
    server = ref_server()
    done = run_client("quiet", str(server.port), "--quiet", stdin_text="5 -3 12\n")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "count: 3\nmin: -3\nmax: 12\n"
    done = run_client("json", str(server.port), "--json", stdin_text="%d 2\n" % 10**100)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"client_id": "json", "outcome": "stopped", "exit_code": 0,
                                       "count": 2, "numbers": [10**100, 2], "min": 2, "max": 10**100}
    done = run_client("quitter", str(server.port), "--json", stdin_text="1 2\nquit\n")
    assert done.returncode == 4
    assert json.loads(done.stdout) == {"client_id": "quitter", "outcome": "quit", "exit_code": 4,
                                       "message": "the session was abandoned; nothing was recorded"}
    done = run_client("empty", str(server.port), "--json", stdin_text="stop\n")
    assert done.returncode == 3
    refused = json.loads(done.stdout)
    assert (refused["outcome"], refused["exit_code"], refused["op"], refused["error"]) == \
        ("refused", 3, "STOP", "Dados insuficientes")
