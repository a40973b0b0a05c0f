//! Node processes of a local cluster: finding the `shoal-node` binary, starting a node in
//! the background with its log and PID file, telling whether a PID is still one of our
//! nodes, and stopping it (SIGTERM, then SIGKILL after a grace period).
//!
//! Invariant: a process is signalled only if `/proc/PID/cmdline` shows a node run with this
//! node's config file (`run --config PATH`, whatever the binary is called:
//! `SHOAL_NODE_BIN` may name a copy), so a stale PID file can never make us signal a
//! stranger.
//! Does not wait for a node to serve (see `up`).

use std::fs::OpenOptions;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use shoal_router::ClusterFile;

use super::layout::Layout;
use crate::cli::CliError;

/// Environment variable that names the `shoal-node` binary explicitly.
pub const NODE_BINARY_ENV: &str = "SHOAL_NODE_BIN";
/// How long `stop` waits after SIGTERM before SIGKILL.
pub const STOP_GRACE: Duration = Duration::from_secs(10);
/// How long `stop` waits for a SIGKILLed process to vanish.
const KILL_WAIT: Duration = Duration::from_secs(5);
/// Poll period while waiting for a process to exit.
const POLL: Duration = Duration::from_millis(20);

/// The `shoal-node` binary: `$SHOAL_NODE_BIN`, else next to this executable (as cargo
/// builds them), else on `PATH`.
pub fn node_binary() -> Result<PathBuf, CliError> {
    if let Some(path) = std::env::var_os(NODE_BINARY_ENV) {
        return Ok(PathBuf::from(path));
    }
    let beside = std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.join("shoal-node")));
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("shoal-node"))
            .find(|candidate| candidate.is_file())
    });
    beside
        .filter(|path| path.is_file())
        .or(on_path)
        .ok_or_else(|| {
            CliError::Local(format!(
                "cannot find the shoal-node binary next to this executable or on PATH \
                 (build it with `cargo build -p shoal-node`, or set {NODE_BINARY_ENV})"
            ))
        })
}

/// Starts node `node` of the cluster in `layout` in the background (its own process
/// group, so a Ctrl-C in the terminal does not reach it) and writes its PID file.
pub fn start_node(binary: &Path, layout: &Layout, node: u32) -> Result<Child, CliError> {
    let log_path = layout.log_file(node);
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(|e| CliError::Local(format!("cannot open {}: {e}", log_path.display())))?;
    let log_err = log
        .try_clone()
        .map_err(|e| CliError::Local(format!("cannot open {}: {e}", log_path.display())))?;
    let child = Command::new(binary)
        .arg("run")
        .arg("--config")
        .arg(layout.node_config(node))
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err)
        .process_group(0)
        .spawn()
        .map_err(|e| CliError::Local(format!("cannot start {}: {e}", binary.display())))?;
    let pid_path = layout.pid_file(node);
    std::fs::write(&pid_path, format!("{}\n", child.id()))
        .map_err(|e| CliError::Local(format!("cannot write {}: {e}", pid_path.display())))?;
    Ok(child)
}

/// Mints the cluster's development CA and node certificates into `DIR/certs` with
/// `shoal-node dev-certs` (mutual TLS between nodes).
pub fn mint_certs(layout: &Layout, cluster: &ClusterFile) -> Result<(), CliError> {
    let binary = node_binary()?;
    let ids: Vec<String> = cluster.nodes.iter().map(|n| n.id.to_string()).collect();
    let output = Command::new(&binary)
        .arg("dev-certs")
        .arg("--dir")
        .arg(layout.certs_dir())
        .arg("--cluster")
        .arg(&cluster.name)
        .arg("--nodes")
        .arg(ids.join(","))
        .output()
        .map_err(|e| CliError::Local(format!("cannot run {}: {e}", binary.display())))?;
    if !output.status.success() {
        return Err(CliError::Local(format!(
            "minting certificates failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    Ok(())
}

/// The PID recorded for a node, if its PID file exists and names a running node of this
/// directory.
pub fn running_pid(layout: &Layout, node: u32) -> Option<u32> {
    let text = std::fs::read_to_string(layout.pid_file(node)).ok()?;
    let pid: u32 = text.trim().parse().ok()?;
    is_node_process(pid, &layout.node_config(node)).then_some(pid)
}

/// True if `pid` is a live (not zombie) node run with `config` (its arguments hold
/// `run --config CONFIG`).
pub fn is_node_process(pid: u32, config: &Path) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // The state follows the parenthesised command name, which may itself hold spaces.
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
    let config = config.as_os_str().as_encoded_bytes();
    args.windows(3)
        .any(|w| w == [b"run".as_slice(), b"--config".as_slice(), config])
}

/// Stops node `node` if it runs: SIGTERM, then SIGKILL after `grace`. Removes the PID file.
/// Returns the PID it stopped, if any.
pub fn stop_node(layout: &Layout, node: u32, grace: Duration) -> Result<Option<u32>, CliError> {
    let config = layout.node_config(node);
    let pid = running_pid(layout, node);
    if let Some(pid) = pid {
        let gone = |limit: Duration| wait_until(limit, || !is_node_process(pid, &config));
        signal(pid, Signal::SIGTERM)?;
        if !gone(grace) {
            signal(pid, Signal::SIGKILL)?;
            if !gone(KILL_WAIT) {
                return Err(CliError::Local(format!(
                    "node {node} (pid {pid}) does not exit"
                )));
            }
        }
    }
    let _ = std::fs::remove_file(layout.pid_file(node));
    Ok(pid)
}

/// Sends `signal` to `pid`; a process that is already gone is not an error.
pub fn signal(pid: u32, signal: Signal) -> Result<(), CliError> {
    let raw = i32::try_from(pid).map_err(|_| CliError::Local(format!("bad pid {pid}")))?;
    match kill(Pid::from_raw(raw), signal) {
        Ok(()) | Err(nix::errno::Errno::ESRCH) => Ok(()),
        Err(error) => Err(CliError::Local(format!("cannot signal pid {pid}: {error}"))),
    }
}

/// Polls `done` until it holds or `limit` passes; returns whether it held.
pub fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(POLL);
    }
}

/// The last `lines` lines of a log file (empty if unreadable).
pub fn log_tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_our_node_processes_count() {
        let me = std::process::id();
        assert!(
            !is_node_process(me, Path::new("/nowhere/node.toml")),
            "a test is no node"
        );
        assert!(
            !is_node_process(u32::MAX, Path::new("x")),
            "no such process"
        );
        assert!(wait_until(Duration::from_millis(10), || true));
        assert!(!wait_until(Duration::from_millis(30), || false));
    }

    /// A node started from a binary with another name (`SHOAL_NODE_BIN` naming a copy) is
    /// still recognised by its `run --config PATH` arguments, and only with that path.
    #[test]
    fn a_node_run_is_recognised_whatever_its_binary_is_called() {
        let config = Path::new("/tmp/shoal-process-test/node-7/node.toml");
        let mut child = Command::new("sh")
            .args(["-c", "sleep 30; true", "run", "--config"])
            .arg(config)
            .spawn()
            .expect("spawn sh");
        let pid = child.id();
        let seen = wait_until(Duration::from_secs(5), || is_node_process(pid, config));
        let other = is_node_process(pid, Path::new("/tmp/shoal-process-test/node-8/node.toml"));
        let _ = child.kill();
        let _ = child.wait();
        assert!(seen, "a run with this config is a node");
        assert!(!other, "another node's config is not");
        assert!(!is_node_process(pid, config), "a reaped process is no node");
    }
}
