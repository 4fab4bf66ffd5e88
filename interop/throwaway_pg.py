"""A throwaway PostgreSQL: a cluster made with initdb in a directory, served on a Unix
socket only (nothing on the network), for the tests of several servers on one store
(docs/PROTOCOL.md section 10) and bench/several-servers. As root, the cluster runs as
the postgres user (initdb refuses root); Debian's package creates that user."""

import os
import pathlib
import pwd
import shutil
import signal
import subprocess
import threading


def postgres_bin():
    """The directory of initdb and postgres, or None when PostgreSQL is not installed."""
    if shutil.which("initdb") and shutil.which("postgres"):
        return pathlib.Path(shutil.which("initdb")).parent
    versions = sorted(pathlib.Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return versions[-1].parent if versions else None


class Postgres:
    """Started by the constructor in `directory` (which must be empty or absent)."""

    def __init__(self, directory, timeout=30):
        bin_dir = postgres_bin()
        if bin_dir is None:
            raise RuntimeError("PostgreSQL is not installed (Debian package postgresql)")
        self.dir = pathlib.Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        demote = None
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(self.dir, user.pw_uid, user.pw_gid)
            # Its parents must be reachable by that user too.
            for parent in self.dir.parents:
                if str(parent).startswith("/tmp/") and (parent.stat().st_mode & 0o011) == 0:
                    os.chmod(parent, parent.stat().st_mode | 0o011)

            def demote():
                os.setgid(user.pw_gid)
                os.setuid(user.pw_uid)
        subprocess.run([str(bin_dir / "initdb"), "--auth=trust", "--username=minmax", "--no-sync", "-D",
                        str(self.dir / "data")], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       preexec_fn=demote)
        self.proc = subprocess.Popen([str(bin_dir / "postgres"), "-D", str(self.dir / "data"), "-k", str(self.dir),
                                      "-c", "listen_addresses=", "-c", "max_connections=50"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, preexec_fn=demote)
        ready = threading.Event()

        def watch():
            for line in self.proc.stderr:
                if "ready to accept connections" in line:
                    ready.set()
        threading.Thread(target=watch, daemon=True).start()
        if not ready.wait(timeout):
            self.stop()
            raise RuntimeError("PostgreSQL did not say it was ready")
        self.url = "host=%s user=minmax dbname=postgres" % self.dir

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
