"""Every `$` command of readme.txt, run as a newcomer would paste it (issue 14), so that
the readme cannot drift from the programs.

The commands run in order, in one fresh directory (with interop/ reachable as in the
clone), with the built binaries first on the PATH and a HOME of their own. A command
that starts a server (`minmax-server PORT ...`) is started in the background and
stays up for the commands after it (a second server on the same port fails the test,
as it would fail for a reader); since tests never bind fixed ports, it listens
on a free port, and the readme's port (5000, 5001, ...) is replaced by that one in the
commands that follow (a --metrics address gets a free port too). A store URL of the
readme is replaced by a throwaway PostgreSQL's (skipped, with the reason, when none
is installed). Output shown in the readme must match: a line `...` stands for any
lines, and `...` inside a line for any text. A command shown without output must
succeed.

Two commands are not run here, and the test checks that they are exactly these:
`cargo install ...` (its server part is run: the build is the CI's job, the binaries
here are cargo test's) and `bash .ci/test` (this very suite)."""

import os
import pathlib
import re
import shutil
import signal
import subprocess
import sys
import threading

import pytest

from conftest import BIN_DIR, TIMEOUT

HERE = pathlib.Path(__file__).resolve().parent
README = HERE.parent / "readme.txt"
STORE_URL = "postgresql://minmax@db.example/minmax"
NOT_RUN_HERE = ["bash .ci/test"]


def commands():
    """[(line number, command, [expected output lines])] in the readme's order."""
    found = []
    lines = README.read_text().splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        if line.startswith("    $ "):
            command, expected = line[6:], []
            index += 1
            while index < len(lines) and lines[index].startswith("    ") and not lines[index].startswith("    $ "):
                expected.append(lines[index][4:])
                index += 1
            found.append((index, command, expected))
            continue
        index += 1
    return found


def matches(expected, actual):
    """Whether output lines match the readme's, `...` being a wildcard."""
    if not expected:
        return not actual
    head, rest = expected[0], expected[1:]
    if head == "...":
        return any(matches(rest, actual[skip:]) for skip in range(len(actual) + 1))
    if not actual:
        return False
    pattern = ".*".join(re.escape(part) for part in head.split("..."))
    return re.fullmatch(pattern, actual[0]) is not None and matches(rest, actual[1:])


class Servers:
    """The servers the readme's commands started, by the port the readme gives them."""

    def __init__(self, cwd, env):
        self.cwd, self.env, self.running, self.store = cwd, env, {}, None

    def start(self, command):
        words = command.split()
        port = words[1]
        # A reader pastes the commands in order and stops nothing in between.
        if port in self.running:
            pytest.fail("%r: a server the readme started earlier still runs on port %s" % (command, port))
        words[1] = "0"
        text = " ".join(words)
        text = re.sub(r"--metrics 127\.0\.0\.1:\d+", "--metrics 127.0.0.1:0", text)
        proc = subprocess.Popen(["bash", "-c", "exec " + self.local(text)], cwd=self.cwd, env=self.env,
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                text=True)
        lines = []
        for line in proc.stderr:
            lines.append(line)
            found = re.search(r"listening on \S+:(\d+)", line)
            if found:
                threading.Thread(target=lambda: [None for _ in proc.stderr], daemon=True).start()
                self.running[port] = (proc, found.group(1))
                return
        proc.wait()
        pytest.fail("%r did not start: %s" % (command, "".join(lines)))

    def stop(self, port):
        if port in self.running:
            proc, _ = self.running.pop(port)
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=TIMEOUT) == 0, "a readme server did not stop cleanly"

    def local(self, command):
        """The command with the readme's ports and store replaced by this test's."""
        for port, (_, actual) in self.running.items():
            command = re.sub(r"\b%s\b" % port, actual, command)
        if STORE_URL in command:
            command = command.replace(STORE_URL, self.store_url())
        return command

    def store_url(self):
        if self.store is None:
            from throwaway_pg import Postgres, postgres_bin
            if postgres_bin() is None:
                raise LookupError("PostgreSQL is not installed (Debian package postgresql)")
            self.store = Postgres(pathlib.Path(self.cwd) / "pg")
        return self.store.url

    def close(self):
        for port in list(self.running):
            self.stop(port)
        if self.store is not None:
            self.store.stop()


def test_every_command_of_the_readme_runs_as_shown(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    os.chmod(tmp_path, 0o755)  # a throwaway PostgreSQL runs as its own user
    os.chmod(work, 0o755)
    (work / "interop").symlink_to(HERE)
    (tmp_path / "home").mkdir()
    env = dict(os.environ, HOME=str(tmp_path / "home"), NO_COLOR="1",
               PATH=os.pathsep.join([str(BIN_DIR), str(pathlib.Path(sys.executable).parent), os.environ["PATH"]]))
    env.pop("RUST_LOG", None)
    servers = Servers(str(work), env)
    not_run, skipped, ran = [], [], 0
    try:
        for line, command, expected in commands():
            if command.startswith("cargo install ") and "&& " in command:
                # The server the first command starts, from the binaries under test.
                command = command.split("&& ", 1)[1]
            if command in NOT_RUN_HERE:
                not_run.append(command)
                continue
            if re.match(r"minmax-server \d+\b", command):
                try:
                    servers.start(command)
                except LookupError as missing:
                    skipped.append("line %d: %s (%s)" % (line, command, missing))
                    continue
                ran += 1
                continue
            try:
                local = servers.local(command)
            except LookupError as missing:
                skipped.append("line %d: %s (%s)" % (line, command, missing))
                continue
            done = subprocess.run(["bash", "-c", local], cwd=work, env=env, stdin=subprocess.DEVNULL,
                                  capture_output=True, text=True, timeout=300)
            output = (done.stdout + done.stderr).splitlines()
            assert done.returncode >= 0, "line %d: %r was killed by a signal" % (line, command)
            if expected:
                assert matches(expected, output), "line %d: %r printed:\n%s\nthe readme shows:\n%s" % (
                    line, command, "\n".join(output), "\n".join(expected))
            else:
                assert done.returncode == 0, "line %d: %r failed (%d):\n%s" % (
                    line, command, done.returncode, "\n".join(output))
            ran += 1
    finally:
        servers.close()
    assert not_run == NOT_RUN_HERE, not_run
    assert ran >= 20, "only %d readme commands ran" % ran
    if skipped:
        pytest.skip("ran %d commands; not run here: %s" % (ran, "; ".join(skipped)))


def test_the_wildcards_of_the_readme_match_as_meant():
    assert matches(["a", "...", "z"], ["a", "b", "c", "z"])
    assert matches(["a ... z"], ["a middle z"])
    assert not matches(["a", "z"], ["a", "b", "z"])
    assert not matches(["x"], [])
    assert matches([], [])
