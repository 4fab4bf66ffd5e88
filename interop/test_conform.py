"""minmax-conform against the Python references of the assignment: the reference server
and client pass the seed level; each deliberately broken variant (ref_server.py and
ref_client.py with --fault NAME) is caught by the case named for its fault; the
grader and the matrix run on a folder of submissions."""

import csv
import json
import pathlib
import shutil
import subprocess
import sys

import pytest

from conftest import HERE, binary

PY = sys.executable
SERVER = str(HERE / "ref_server.py")
CLIENT = str(HERE / "ref_client.py")
# Generous against a slow CI machine, short enough for the faults that time out.
RUN_TIMEOUT = 300

# Each server fault, the case named for it, and the verdict it must get there.
SERVER_FAULTS = {
    "reply-before-row": ("server/6/row-before-reply", "fail"),
    "compact-json": ("server/1/replies-exactly-json-dumps", "fail"),
    "no-ascii-escaping": ("server/1/non-ascii-escaped", "fail"),
    "duplicate-ids": ("server/4/start-duplicate-id", "fail"),
    "id-kept-on-disconnect": ("server/2/id-freed-on-disconnect", "fail"),
    "id-kept-after-stop": ("server/2/id-freed-by-stop", "fail"),
    "row-on-quit": ("server/2/quit-records-nothing", "fail"),
    "crash-on-reset": ("server/2/id-freed-on-reset", "crash"),
    "crash-on-invalid-json": ("server/1/invalid-json-survives", "crash"),
    "crash-on-huge-prefix": ("server/1/huge-length-prefix-survives", "crash"),
    "wrong-error-string": ("server/4/error-strings-exact", "fail"),
    "min-max-swapped": ("server/3/stop-min-max", "fail"),
    "numbers-through-float": ("server/5/beyond-64-bits", "fail"),
    "no-header": ("server/6/header-written", "fail"),
    "report-overwritten": ("server/6/existing-report-appended", "fail"),
    "numbers-kept-across-sessions": ("server/2/new-session-starts-empty", "fail"),
    "no-pipelining": ("server/1/two-frames-one-write", "timeout"),
    "single-recv-frames": ("server/1/frame-split-byte-by-byte", "fail"),
    "stop-without-numbers-unchecked": ("server/4/stop-without-numbers", "fail"),
    "argparse-exit-codes": ("server/7/no-arguments-exit-1", "fail"),
    "error-without-op": ("server/4/number-without-session", "fail"),
}

CLIENT_FAULTS = {
    "exit-0-on-refusal": ("client/7/start-refused-exit-3", "fail"),
    "no-quit-on-interrupt": ("client/7/interrupt-sends-quit", "fail"),
    "local-min-max": ("client/7/prints-min-max-from-server", "fail"),
    "no-decryption": ("client/5/decrypts-min-max", "fail"),
    "negative-refused": ("client/3/negative-numbers", "fail"),
    "wrong-arg-count-code": ("client/7/no-arguments-exit-1", "fail"),
    "bad-port-exit-1": ("client/7/port-not-a-number-exit-2", "fail"),
    "numbers-not-printed": ("client/7/prints-numbers-and-min-max", "fail"),
    "quit-exit-0": ("client/7/quit-exit-4", "fail"),
    "single-recv": ("client/1/reply-split-across-writes", "fail"),
    "compact-json": ("client/1/frames-exactly-json-dumps", "fail"),
    "constant-key": ("client/5/fresh-key-per-run", "fail"),
    "host-required": ("client/7/default-host-localhost", "fail"),
}


def conform(*args, tmp_path):
    """Runs minmax-conform with a JSON report; (exit code, {case id: verdict}, stdout)."""
    report = tmp_path / ("run-%d.json" % len(list(tmp_path.glob("run-*.json"))))
    done = subprocess.run([binary("minmax-conform"), *args, "--json", str(report)], capture_output=True,
                          text=True, timeout=RUN_TIMEOUT)
    assert report.exists(), done.stdout + done.stderr
    cases = json.loads(report.read_text())["cases"]
    return done.returncode, {case["id"]: case for case in cases}, done.stdout


def server_cmd(*extra):
    return " ".join([PY, SERVER, "{port}", *extra])


def client_cmd(*extra):
    return " ".join([PY, CLIENT, *extra, "{id}", "{port}", "{host}"])


def verdicts(cases):
    return {case_id: case["verdict"] for case_id, case in cases.items()}


def test_the_reference_server_passes_the_seed_level(tmp_path):
    code, cases, out = conform("server", "--cmd", server_cmd(), "--level", "seed", "-j", "2", tmp_path=tmp_path)
    assert code == 0, out
    assert len(cases) >= 50
    assert set(verdicts(cases).values()) == {"pass"}, out


def test_the_reference_client_passes_the_seed_level(tmp_path):
    code, cases, out = conform("client", "--cmd", client_cmd(), "--encrypt-cmd", client_cmd("--encrypt"),
                               "--level", "seed", "-j", "2", tmp_path=tmp_path)
    assert code == 0, out
    assert len(cases) >= 25
    assert set(verdicts(cases).values()) == {"pass"}, out


def test_every_case_named_for_a_fault_passes_without_it(tmp_path):
    """So that a fault's verdict is the fault's doing, not the case's."""
    server_cases = [case for case, _ in SERVER_FAULTS.values()]
    client_cases = [case for case, _ in CLIENT_FAULTS.values()]
    only = [arg for case in server_cases for arg in ("--only", case)]
    code, cases, out = conform("server", "--cmd", server_cmd(), "--level", "all", *only, tmp_path=tmp_path)
    assert (code, verdicts(cases)) == (0, {case: "pass" for case in server_cases}), out
    only = [arg for case in client_cases for arg in ("--only", case)]
    code, cases, out = conform("client", "--cmd", client_cmd(), "--encrypt-cmd", client_cmd("--encrypt"),
                               "--level", "all", *only, tmp_path=tmp_path)
    assert (code, verdicts(cases)) == (0, {case: "pass" for case in client_cases}), out


@pytest.mark.parametrize("fault", sorted(SERVER_FAULTS))
def test_each_server_fault_is_caught_by_its_case(fault, tmp_path):
    case, verdict = SERVER_FAULTS[fault]
    code, cases, out = conform("server", "--cmd", server_cmd("--fault", fault), "--only", case, "--level", "all",
                               "--timeout", "2", tmp_path=tmp_path)
    assert code == 1, out
    assert cases[case]["verdict"] == verdict, out
    rerun = cases[case]["rerun"]
    assert "--fault %s" % fault in rerun and "--timeout 2" in rerun and rerun.endswith("--only %s --level all" % case)


@pytest.mark.parametrize("fault", sorted(CLIENT_FAULTS))
def test_each_client_fault_is_caught_by_its_case(fault, tmp_path):
    case, verdict = CLIENT_FAULTS[fault]
    code, cases, out = conform("client", "--cmd", client_cmd("--fault", fault),
                               "--encrypt-cmd", client_cmd("--fault", fault, "--encrypt"),
                               "--only", case, "--level", "all", "--timeout", "2", tmp_path=tmp_path)
    assert code == 1, out
    assert cases[case]["verdict"] == verdict, out


def test_the_fault_lists_are_the_references_own():
    """Every fault the references offer is checked above, and there are enough of them."""
    sys.path.insert(0, str(HERE))
    import ref_client
    import ref_server

    assert set(ref_server.FAULTS) == set(SERVER_FAULTS)
    assert set(ref_client.FAULTS) == set(CLIENT_FAULTS)
    assert len(SERVER_FAULTS) >= 15 and len(CLIENT_FAULTS) >= 10


WRAPPER = """import runpy, sys
sys.path.insert(0, {interop!r})
sys.argv[1:1] = {extra!r}
runpy.run_path({script!r}, run_name="__main__")
"""


def make_submissions(root):
    """Two submissions: the references, and the references with one fault each."""
    for name, server_extra, client_extra in [
        ("good", [], []),
        ("broken", ["--fault", "duplicate-ids"], ["--fault", "exit-0-on-refusal"]),
    ]:
        folder = root / name
        folder.mkdir(parents=True)
        (folder / "server.py").write_text(WRAPPER.format(interop=str(HERE), extra=server_extra, script=SERVER))
        (folder / "client.py").write_text(WRAPPER.format(interop=str(HERE), extra=client_extra, script=CLIENT))
        (folder / "readme.txt").write_text("a submission\n")
    return root


def test_grade_writes_a_gradebook(tmp_path):
    submissions = make_submissions(tmp_path / "submissions")
    out = tmp_path / "gradebook"
    done = subprocess.run([binary("minmax-conform"), "grade", str(submissions), "--out", str(out),
                           "--python", PY, "-j", "2"], capture_output=True, text=True, timeout=RUN_TIMEOUT)
    assert done.returncode == 1, done.stdout + done.stderr
    with open(out / "gradebook.csv", newline="") as book:
        rows = list(csv.reader(book))
    assert rows[0][:4] == ["submission", "score", "max_score", "percent"]
    scores = {row[0]: (float(row[1]), float(row[2])) for row in rows[1:]}
    assert set(scores) == {"broken", "good"}
    assert scores["good"][0] == scores["good"][1] > 0
    assert scores["broken"][0] < scores["good"][0]
    assert "server/4/start-duplicate-id" in rows[0]
    results = json.loads((out / "broken" / "results.json").read_text())
    failed = {test["name"] for test in results["tests"] if test["status"] == "failed"}
    assert {"server/4/start-duplicate-id", "client/7/start-refused-exit-3"} <= failed
    assert all({"name", "score", "max_score", "status", "output"} <= set(t) for t in results["tests"])
    index = (out / "index.html").read_text()
    assert 'href="good/report.html"' in index and 'href="broken/report.html"' in index
    assert "<script" not in (out / "good" / "report.html").read_text()


def test_matrix_pairs_every_client_with_every_server(tmp_path):
    submissions = make_submissions(tmp_path / "submissions")
    done = subprocess.run([binary("minmax-conform"), "matrix", str(submissions), "--python", PY, "-j", "2"],
                          capture_output=True, text=True, timeout=RUN_TIMEOUT)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split()[-3:] == ["broken", "good", "minmax-server"], done.stdout
    assert [line.split()[0] for line in lines[1:4]] == ["broken", "good", "minmax-client"]
    assert lines[-1] == "9 passed, 0 failed"
