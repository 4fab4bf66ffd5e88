//! `minmax-conform matrix DIR`: every submission's client against every submission's
//! server and minmax-server, one short scripted session per cell, printed as a grid.

use super::grade::{Submission, client_template, server_template, submissions};
use super::process::{self, NotReady, Proc, Template, shell_quote};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// One side of the grid.
#[derive(Debug, Clone)]
struct Peer {
    name: String,
    template: Template,
    cwd: Option<PathBuf>,
}

/// How a cell went.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Cell {
    Ok,
    Failed(String),
}

/// minmax's own program `name`: the given path, or next to this program.
fn sibling(given: Option<&Path>, name: &str) -> Option<PathBuf> {
    if let Some(path) = given {
        return Some(process::absolute(path));
    }
    let exe = std::env::current_exe().ok()?;
    let candidate = exe.parent()?.join(name);
    candidate.is_file().then_some(candidate)
}

/// `minmax-conform matrix`.
pub fn run_cli(args: super::cli::MatrixArgs) -> Result<u8, String> {
    let found = submissions(&args.dir, &args.server_file, &args.client_file)?;
    let python = if args.python.contains('/') {
        process::absolute(Path::new(&args.python)).display().to_string()
    } else {
        args.python.clone()
    };
    let mut servers = Vec::new();
    let mut clients = Vec::new();
    for Submission { name, server, client, .. } in &found {
        if let Some(file) = server {
            servers.push(Peer {
                name: name.clone(),
                template: server_template(&python, file)?,
                cwd: file.parent().map(Path::to_path_buf),
            });
        }
        if let Some(file) = client {
            clients.push(Peer {
                name: name.clone(),
                template: client_template(&python, file)?,
                cwd: file.parent().map(Path::to_path_buf),
            });
        }
    }
    match sibling(args.minmax_server.as_deref(), "minmax-server") {
        Some(path) => servers.push(Peer {
            name: "minmax-server".into(),
            template: Template::parse(&format!("{} {{port}}", shell_quote(&path.display().to_string())))?,
            cwd: None,
        }),
        None => {
            eprintln!("minmax-conform: minmax-server not found next to this program (give --minmax-server)")
        }
    }
    if let Some(path) = sibling(args.minmax_client.as_deref(), "minmax-client") {
        clients.push(Peer {
            name: "minmax-client".into(),
            template: Template::parse(&format!(
                "{} {{id}} {{port}} {{host}}",
                shell_quote(&path.display().to_string())
            ))?,
            cwd: None,
        });
    }
    if servers.is_empty() || clients.is_empty() {
        return Err(format!("{} holds no server or no client to pair", args.dir.display()));
    }
    let timeout = Duration::from_secs_f64(args.timeout);
    let cells: Vec<(usize, usize)> =
        (0..clients.len()).flat_map(|c| (0..servers.len()).map(move |s| (c, s))).collect();
    let results = std::sync::Mutex::new(vec![Cell::Ok; cells.len()]);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let workers = args.jobs.unwrap_or_else(super::runner::default_jobs).clamp(1, cells.len());
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let Some(&(c, s)) = cells.get(i) else { return };
                    let cell = run_cell(&clients[c], &servers[s], timeout);
                    results.lock().unwrap_or_else(std::sync::PoisonError::into_inner)[i] = cell;
                }
            });
        }
    });
    let results = results.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
    crate::out!("{}", grid(&clients, &servers, &results));
    let failed = results.iter().filter(|cell| **cell != Cell::Ok).count();
    crate::outln!("{} passed, {} failed", results.len() - failed, failed);
    Ok(if failed == 0 { super::EXIT_PASSED } else { super::EXIT_FAILED })
}

fn grid(clients: &[Peer], servers: &[Peer], results: &[Cell]) -> String {
    let short = |name: &str| name.chars().take(14).collect::<String>();
    let left = clients
        .iter()
        .map(|c| c.name.chars().count().min(24))
        .max()
        .unwrap_or(6)
        .max("client \\ server".len());
    let mut out = format!("{:<left$}", "client \\ server");
    for server in servers {
        out.push_str(&format!(" {:>14}", short(&server.name)));
    }
    out.push('\n');
    let mut notes = Vec::new();
    for (c, client) in clients.iter().enumerate() {
        let name: String = client.name.chars().take(24).collect();
        out.push_str(&format!("{name:<left$}"));
        for (s, server) in servers.iter().enumerate() {
            let cell = &results[c * servers.len() + s];
            let text = match cell {
                Cell::Ok => "ok".to_string(),
                Cell::Failed(why) => {
                    notes.push(format!("  {} -> {}: {why}", client.name, server.name));
                    format!("FAIL#{}", notes.len())
                }
            };
            out.push_str(&format!(" {text:>14}"));
        }
        out.push('\n');
    }
    for (i, note) in notes.iter().enumerate() {
        out.push_str(&format!("#{}{}\n", i + 1, note));
    }
    out
}

/// One cell: the server started afresh, the client sends 5, -3, 12 and stops; it must
/// exit 0, print -3 and 12, and the report must hold the row.
fn run_cell(client: &Peer, server: &Peer, timeout: Duration) -> Cell {
    match cell(client, server, timeout) {
        Ok(()) => Cell::Ok,
        Err(why) => Cell::Failed(why),
    }
}

fn cell(client: &Peer, server: &Peer, timeout: Duration) -> Result<(), String> {
    let server_dir =
        process::fresh_dir(server.cwd.as_deref()).map_err(|e| format!("no working directory: {e}"))?;
    let client_dir =
        process::fresh_dir(client.cwd.as_deref()).map_err(|e| format!("no working directory: {e}"))?;
    let port = process::free_port().map_err(|e| format!("no free port: {e}"))?;
    let argv = server.template.argv(&[("port", Some(&port.to_string()))]);
    let mut server_proc = Proc::spawn(&argv, server_dir.path(), false).map_err(|e| format!("server: {e}"))?;
    match process::wait_listening(&mut server_proc, port, timeout * 2) {
        Ok(_) => {}
        Err(NotReady::Exited(status)) => {
            return Err(format!("the server exited before listening ({})", process::describe_status(status)));
        }
        Err(NotReady::Timeout) => return Err("the server never listened".into()),
    }
    let argv = client.template.argv(&[
        ("id", Some("matrix")),
        ("port", Some(&port.to_string())),
        ("host", Some("127.0.0.1")),
    ]);
    let mut client_proc = Proc::spawn(&argv, client_dir.path(), true).map_err(|e| format!("client: {e}"))?;
    if let Some(stdin) = client_proc.stdin.as_mut() {
        use std::io::Write;
        let _ = stdin.write_all(b"5\n-3\n12\nstop\n");
    }
    let started = Instant::now();
    let status = client_proc.wait_exit(timeout * 2);
    let stdout = String::from_utf8_lossy(&client_proc.stdout()).into_owned();
    let report = std::fs::read_to_string(server_dir.path().join("report.csv")).unwrap_or_default();
    let server_alive = !server_proc.exited();
    server_proc.kill();
    client_proc.kill();
    let Some(status) = status else {
        return Err(format!("the client was still running after {:.0} s", started.elapsed().as_secs_f64()));
    };
    if status.code() != Some(0) {
        return Err(format!(
            "client {}: {}",
            process::describe_status(Some(status)),
            client_proc.output_tail(2)
        ));
    }
    let printed = super::client::integers(&stdout);
    if !["-3", "12"].iter().all(|n| printed.iter().any(|p| p == n)) {
        return Err(format!("the client did not print -3 and 12: {:?}", super::json::shorten(&stdout, 120)));
    }
    if !report.lines().any(|line| line.trim_end() == "matrix,3,-3,12") {
        return Err(format!("no row matrix,3,-3,12 in the report: {:?}", super::json::shorten(&report, 120)));
    }
    if !server_alive {
        return Err("the server died".into());
    }
    Ok(())
}
