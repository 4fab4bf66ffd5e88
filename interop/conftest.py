"""Fixtures of the interop suite: the real minmax binaries (built by `cargo build`, found
in MINMAX_BIN_DIR or ../target/debug) and the Python reference server, each started on
port 0 and found by its "listening on" line. Nothing sleeps to wait for a server."""

import os
import pathlib
import queue
import signal
import subprocess
import sys
import threading

import pytest

HERE = pathlib.Path(__file__).resolve().parent
BIN_DIR = pathlib.Path(os.environ.get("MINMAX_BIN_DIR", HERE.parent / "target" / "debug"))
TIMEOUT = 20


class Process:
    """A server process whose stderr is collected line by line."""

    def __init__(self, argv, cwd):
        env = dict(os.environ)
        env.pop("RUST_LOG", None)
        self.proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.lines = queue.Queue()
        self.log = []
        threading.Thread(target=self._collect, daemon=True).start()
        self.port = self._wait_for_port()

    def _collect(self):
        for line in self.proc.stderr:
            self.log.append(line)
            self.lines.put(line)
        self.lines.put(None)

    def _wait_for_port(self):
        while True:
            try:
                line = self.lines.get(timeout=TIMEOUT)
            except queue.Empty:
                raise AssertionError("the server never said where it listens: %s" % "".join(self.log))
            if line is None:
                raise AssertionError("the server exited: %s" % "".join(self.log))
            if "listening on " in line:
                return int(line.rsplit(":", 1)[1])

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def binary(name):
    path = BIN_DIR / name
    if not path.exists():
        pytest.fail("%s is missing: run `cargo build --bins` first (or set MINMAX_BIN_DIR)" % path)
    return str(path)


@pytest.fixture
def minmax_server(tmp_path):
    """The real minmax-server, with its report in a temporary directory."""
    servers = []

    def start(*options):
        server = Process([binary("minmax-server"), "0", *options], cwd=tmp_path)
        server.report = tmp_path / "report.csv"
        servers.append(server)
        return server

    yield start
    for server in servers:
        assert server.stop() == 0, "".join(server.log)


@pytest.fixture
def ref_server(tmp_path):
    """The Python reference server in the assignment's design."""
    servers = []

    def start(*options):
        server = Process([sys.executable, str(HERE / "ref_server.py"), "0",
                          "--report", str(tmp_path / "ref-report.csv"), *options], cwd=HERE)
        server.report = tmp_path / "ref-report.csv"
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def run_client(*args, stdin_text=""):
    """Runs the real minmax-client with piped input."""
    return subprocess.run([binary("minmax-client"), *args], input=stdin_text, capture_output=True,
                          text=True, timeout=TIMEOUT)
