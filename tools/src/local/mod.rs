//! The local cluster: `shoal up` writes per-node configs and the cluster file under a
//! directory and starts `shoal-node` processes in the background; `shoal down` stops them;
//! `shoal status` reports nodes, shards, partitions, leaders and health. `up` also starts
//! the HTTP gateway (`gateway`) unless told not to; `down` stops it.
//!
//! Layout of DIR: `cluster.toml`; per node `node-N/node.toml` (its config), `node-N/data`
//! (its data), `node-N/log` (stdout and stderr, appended), `node-N/pid` (while running); `credentials` and `gateway/` for the gateway.
//! Invariant: a PID file names a process only while that process is a `shoal-node`
//! started for this directory; stale PID files are ignored and replaced.
//! Does not manage remote nodes (see `tools/deploy`, later).

pub mod down;
pub mod gateway;
pub mod layout;
pub mod ports;
pub mod process;
pub mod status;
pub mod up;
