//! `shoal down`: stop the gateway and every node of the local cluster in DIR (SIGTERM, then SIGKILL after
//! a grace period) and remove their PID files.
//!
//! Invariant: only processes that `process::running_pid` recognises as this directory's
//! nodes and gateway are signalled.
//! Does not delete data, configs or logs.

use std::path::Path;

use shoal_router::ClusterFile;

use super::gateway;
use super::layout::Layout;
use super::process;
use crate::cli::CliError;

/// Runs `shoal down`.
pub fn run(dir: &Path) -> Result<(), CliError> {
    let layout = Layout::new(dir)?;
    let cluster = ClusterFile::load(&layout.cluster_file()).map_err(CliError::Local)?;
    let mut stopped = 0;
    if let Some(pid) = gateway::stop(&layout, process::STOP_GRACE)? {
        println!("stopped gateway (pid {pid})");
        stopped += 1;
    }
    for node in &cluster.nodes {
        if let Some(pid) = process::stop_node(&layout, node.id, process::STOP_GRACE)? {
            println!("stopped node {} (pid {pid})", node.id);
            stopped += 1;
        }
    }
    if stopped == 0 {
        println!("no node of {} was running", layout.dir.display());
    }
    Ok(())
}
