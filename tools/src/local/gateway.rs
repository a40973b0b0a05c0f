//! The local cluster's HTTP gateway: `shoal up` starts one `shoal-router` next to the
//! nodes, with a credentials file it writes into DIR; `shoal down` stops it; `shoal status`
//! shows it.
//!
//! Layout: `DIR/credentials` (AWS credentials-file format, mode 0600, written once and
//! kept), `DIR/gateway/port` (chosen once and kept, so the URL survives restarts),
//! `DIR/gateway/log` and `DIR/gateway/pid` (while running).
//! Invariant: a process is signalled only if `/proc/PID/cmdline` shows a `shoal-router`
//! serving this directory's cluster file, as for nodes.
//! Does not restart a gateway that runs already, even with a changed credentials file.

use std::fs::OpenOptions;
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use super::layout::Layout;
use super::{ports, process};
use crate::cli::CliError;

/// Environment variable that names the `shoal-router` binary explicitly.
pub const GATEWAY_BINARY_ENV: &str = "SHOAL_ROUTER_BIN";
/// Longest wait for a started gateway to listen.
const LISTEN_WAIT: Duration = Duration::from_secs(30);
/// Poll period while waiting.
const POLL: Duration = Duration::from_millis(20);

/// A running gateway.
#[derive(Debug)]
pub struct Running {
    /// Its process.
    pub pid: u32,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
}

/// The access key of a local cluster.
#[derive(Debug)]
pub struct AccessKey {
    /// `aws_access_key_id`.
    pub id: String,
    /// `aws_secret_access_key`.
    pub secret: String,
}

fn dir(layout: &Layout) -> PathBuf {
    layout.dir.join("gateway")
}

/// `DIR/credentials`.
pub fn credentials_file(layout: &Layout) -> PathBuf {
    layout.dir.join("credentials")
}

fn pid_file(layout: &Layout) -> PathBuf {
    dir(layout).join("pid")
}

fn port_file(layout: &Layout) -> PathBuf {
    dir(layout).join("port")
}

/// `DIR/gateway/log`.
pub fn log_file(layout: &Layout) -> PathBuf {
    dir(layout).join("log")
}

fn local(message: String) -> CliError {
    CliError::Local(message)
}

/// The `shoal-router` binary: `$SHOAL_ROUTER_BIN`, else next to this executable, else on
/// `PATH`.
pub fn binary() -> Result<PathBuf, CliError> {
    if let Some(path) = std::env::var_os(GATEWAY_BINARY_ENV) {
        return Ok(PathBuf::from(path));
    }
    let beside = std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.join("shoal-router")));
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("shoal-router"))
            .find(|candidate| candidate.is_file())
    });
    beside
        .filter(|path| path.is_file())
        .or(on_path)
        .ok_or_else(|| {
            local(format!(
                "cannot find the shoal-router binary next to this executable or on PATH (build \
             it with `cargo build -p shoal-router`, set {GATEWAY_BINARY_ENV}, or pass \
             --no-gateway)"
            ))
        })
}

/// The gateway of this directory, if one runs.
pub fn running(layout: &Layout) -> Option<Running> {
    let pid: u32 = std::fs::read_to_string(pid_file(layout))
        .ok()?
        .trim()
        .parse()
        .ok()?;
    if !is_gateway_process(pid, &layout.cluster_file()) {
        return None;
    }
    let port = std::fs::read_to_string(port_file(layout)).ok()?;
    Some(Running {
        pid,
        url: format!("http://127.0.0.1:{}", port.trim()),
    })
}

/// True if `pid` is a live `shoal-router` serving `cluster_file`.
fn is_gateway_process(pid: u32, cluster_file: &Path) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().next());
    if matches!(state, None | Some("Z") | Some("X")) {
        return false;
    }
    let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let args: Vec<&[u8]> = cmdline.split(|&b| b == 0).collect();
    let file = cluster_file.as_os_str().as_encoded_bytes();
    args.first()
        .is_some_and(|exe| exe.ends_with(b"shoal-router"))
        && args.contains(&file)
}

/// Random characters from `alphabet`, from the kernel's generator.
fn random_text(alphabet: &[u8], length: usize) -> Result<String, CliError> {
    let mut bytes = vec![0u8; length];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|e| local(format!("cannot read /dev/urandom: {e}")))?;
    Ok(bytes
        .iter()
        .map(|b| alphabet[usize::from(*b) % alphabet.len()] as char)
        .collect())
}

/// Reads `DIR/credentials`, writing a new random key there first if it does not exist.
pub fn access_key(layout: &Layout) -> Result<AccessKey, CliError> {
    let path = credentials_file(layout);
    if !path.exists() {
        const UPPER: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        const SECRET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let id = format!("AKSHOAL{}", random_text(UPPER, 13)?);
        let secret = random_text(SECRET, 40)?;
        let text = shoal_router::gateway::sigv4::Credentials::file_text(&id, &secret);
        let mut file = OpenOptions::new()
            .create_new(true)
            .write(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| local(format!("cannot create {}: {e}", path.display())))?;
        std::io::Write::write_all(&mut file, text.as_bytes())
            .map_err(|e| local(format!("cannot write {}: {e}", path.display())))?;
    }
    let text = std::fs::read_to_string(&path)
        .map_err(|e| local(format!("cannot read {}: {e}", path.display())))?;
    let value = |key: &str| {
        text.lines()
            .filter_map(|l| l.split_once('='))
            .find(|(k, _)| k.trim() == key)
            .map(|(_, v)| v.trim().to_owned())
            .ok_or_else(|| local(format!("{} has no {key}", path.display())))
    };
    Ok(AccessKey {
        id: value("aws_access_key_id")?,
        secret: value("aws_secret_access_key")?,
    })
}

fn port(layout: &Layout, seed: u64) -> Result<u16, CliError> {
    if let Ok(text) = std::fs::read_to_string(port_file(layout))
        && let Ok(port) = text.trim().parse::<u16>()
    {
        return Ok(port);
    }
    let port = ports::find_free_range(1, seed)
        .ok_or_else(|| local("no free port for the gateway".into()))?;
    std::fs::write(port_file(layout), format!("{port}\n"))
        .map_err(|e| local(format!("cannot write the gateway port file: {e}")))?;
    Ok(port)
}

/// Starts the gateway unless it runs, and waits (bounded) until it listens.
pub fn start(layout: &Layout, seed: u64) -> Result<Running, CliError> {
    if let Some(running) = running(layout) {
        return Ok(running);
    }
    let binary = binary()?;
    std::fs::create_dir_all(dir(layout))
        .map_err(|e| local(format!("cannot create {}: {e}", dir(layout).display())))?;
    access_key(layout)?;
    let port = port(layout, seed)?;
    let log_path = log_file(layout);
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(|e| local(format!("cannot open {}: {e}", log_path.display())))?;
    let log_start = log.metadata().map_or(0, |m| m.len());
    let log_err = log
        .try_clone()
        .map_err(|e| local(format!("cannot open {}: {e}", log_path.display())))?;
    let mut child = Command::new(&binary)
        .arg("--cluster")
        .arg(layout.cluster_file())
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .arg("--credentials")
        .arg(credentials_file(layout))
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err)
        .process_group(0)
        .spawn()
        .map_err(|e| local(format!("cannot start {}: {e}", binary.display())))?;
    std::fs::write(pid_file(layout), format!("{}\n", child.id()))
        .map_err(|e| local(format!("cannot write the gateway PID file: {e}")))?;
    let deadline = Instant::now() + LISTEN_WAIT;
    // Bounded by `deadline`.
    loop {
        let text = std::fs::read(&log_path).unwrap_or_default();
        let new = String::from_utf8_lossy(text.get(log_start as usize..).unwrap_or_default());
        if new.contains("listening on http://") {
            return Ok(Running {
                pid: child.id(),
                url: format!("http://127.0.0.1:{port}"),
            });
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(local(format!(
                "the gateway exited ({status}); end of {}:\n{}",
                log_path.display(),
                process::log_tail(&log_path, 20)
            )));
        }
        if Instant::now() >= deadline {
            return Err(local(format!(
                "the gateway does not listen after {LISTEN_WAIT:?}; see {}",
                log_path.display()
            )));
        }
        std::thread::sleep(POLL);
    }
}

/// Stops the gateway if it runs (SIGTERM, then SIGKILL after `grace`); returns its PID.
pub fn stop(layout: &Layout, grace: Duration) -> Result<Option<u32>, CliError> {
    let cluster_file = layout.cluster_file();
    let pid = running(layout).map(|r| r.pid);
    if let Some(pid) = pid {
        let gone = |limit| process::wait_until(limit, || !is_gateway_process(pid, &cluster_file));
        process::signal(pid, Signal::SIGTERM)?;
        if !gone(grace) {
            process::signal(pid, Signal::SIGKILL)?;
            if !gone(Duration::from_secs(5)) {
                return Err(local(format!("the gateway (pid {pid}) does not exit")));
            }
        }
    }
    let _ = std::fs::remove_file(pid_file(layout));
    Ok(pid)
}

/// What `shoal up` prints about the gateway.
pub fn print(layout: &Layout, running: &Running) -> Result<(), CliError> {
    let key = access_key(layout)?;
    println!(
        "gateway (pid {}): {} (log {})",
        running.pid,
        running.url,
        log_file(layout).display()
    );
    println!("credentials: {}", credentials_file(layout).display());
    println!("export AWS_ACCESS_KEY_ID={}", key.id);
    println!("export AWS_SECRET_ACCESS_KEY={}", key.secret);
    println!(
        "then: aws dynamodb list-tables --endpoint-url {} --region us-east-1",
        running.url
    );
    Ok(())
}
