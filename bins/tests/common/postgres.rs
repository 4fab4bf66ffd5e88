//! A throwaway PostgreSQL for the tests of §10: a cluster made with `initdb` in a
//! temporary directory, served on a Unix socket only (nothing on the network), and
//! stopped when dropped. `initdb` refuses to run as root, so as root the cluster
//! belongs to the `postgres` user (Debian's package creates it).

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Instant;

/// A running PostgreSQL.
pub struct Postgres {
    dir: tempfile::TempDir,
    bin: PathBuf,
    owner: Option<(u32, u32)>,
    child: Option<Child>,
}

impl Postgres {
    /// Makes and starts a cluster, or says why it cannot (no PostgreSQL installed).
    pub fn start() -> Result<Postgres, String> {
        let bin =
            find_bin().ok_or("PostgreSQL is not installed (Debian package postgresql: initdb, postgres)")?;
        let owner = if rustix::process::geteuid().is_root() {
            Some(postgres_user().ok_or("running as root, and there is no postgres user to run initdb as")?)
        } else {
            None
        };
        let dir = tempfile::tempdir().unwrap();
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).unwrap();
        }
        let mut initdb = Command::new(bin.join("initdb"));
        initdb
            .args(["--auth=trust", "--username=minmax", "--encoding=UTF8", "--locale=C", "--no-sync"])
            .arg("-D")
            .arg(dir.path().join("data"))
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if let Some((uid, gid)) = owner {
            initdb.uid(uid).gid(gid);
        }
        let output = initdb.output().map_err(|error| format!("initdb did not run: {error}"))?;
        if !output.status.success() {
            return Err(format!("initdb failed: {}", String::from_utf8_lossy(&output.stderr)));
        }
        let mut postgres = Postgres { dir, bin, owner, child: None };
        postgres.run();
        Ok(postgres)
    }

    /// Starts the server on the cluster and waits for its "ready" line.
    pub fn run(&mut self) {
        let mut command = Command::new(self.bin.join("postgres"));
        command
            .arg("-D")
            .arg(self.dir.path().join("data"))
            .args(["-c", "listen_addresses=", "-c", "max_connections=50"])
            .arg("-k")
            .arg(self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if let Some((uid, gid)) = self.owner {
            command.uid(uid).gid(gid);
        }
        let mut child = command.spawn().expect("postgres starts");
        let stderr = child.stderr.take().unwrap();
        let (ready_tx, ready_rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if line.contains("ready to accept connections") {
                    let _ = ready_tx.send(());
                }
            }
        });
        ready_rx.recv_timeout(super::TIMEOUT).expect("postgres says it is ready");
        self.child = Some(child);
    }

    /// Stops the server (a fast shutdown: sessions are ended, as when a store dies);
    /// the cluster stays for [`Postgres::run`].
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let pid = rustix::process::Pid::from_child(&child);
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::INT);
            super::wait_with_timeout(&mut child, super::TIMEOUT).expect("postgres stops");
        }
    }

    /// The connection string of the cluster, for `--store`.
    pub fn url(&self) -> String {
        format!("host={} user=minmax dbname=postgres", self.dir.path().display())
    }

    /// Creates database `name` encoded in `encoding`, with PostgreSQL's `createdb`;
    /// its connection string.
    pub fn create_database(&self, name: &str, encoding: &str) -> String {
        let output = Command::new(self.bin.join("createdb"))
            .arg("--host")
            .arg(self.dir.path())
            .args(["--username=minmax", "--template=template0", "--locale=C"])
            .arg(format!("--encoding={encoding}"))
            .arg(name)
            .output()
            .expect("createdb runs");
        assert!(output.status.success(), "createdb: {}", String::from_utf8_lossy(&output.stderr));
        format!("host={} user=minmax dbname={name}", self.dir.path().display())
    }

    /// The Unix socket directory.
    pub fn socket_dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The directory of `initdb`, `postgres` and `createdb`: where the `initdb` on the
/// PATH really is (often a symbolic link to it), or Debian's versioned directory.
fn find_bin() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .filter_map(|dir| dir.join("initdb").canonicalize().ok()?.parent().map(Path::to_path_buf))
        .find(|dir| ["postgres", "createdb"].iter().all(|program| dir.join(program).is_file()));
    on_path.or_else(|| {
        let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .flatten()
            .map(|entry| entry.path().join("bin"))
            .filter(|bin| bin.join("initdb").is_file())
            .collect();
        versions.sort();
        versions.pop()
    })
}

/// The uid and gid of the `postgres` user, from /etc/passwd.
fn postgres_user() -> Option<(u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        (fields.first() == Some(&"postgres"))
            .then(|| Some((fields.get(2)?.parse().ok()?, fields.get(3)?.parse().ok()?)))?
    })
}

/// How long `f` took, for figures the tests print.
pub fn timed<T>(f: impl FnOnce() -> T) -> (T, std::time::Duration) {
    let started = Instant::now();
    let value = f();
    (value, started.elapsed())
}
