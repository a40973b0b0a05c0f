//! Paths inside a local cluster directory, and the node configuration file `shoal up`
//! writes for each node (the format of `node/shoal-node.example.toml`).
//!
//! Invariant: every path is absolute, so a node started from any working directory finds
//! its cluster file and data; the generated config has exactly the keys of the example
//! config (a test compares them), since the node rejects unknown keys.
//! Does not create anything except in `create_node_dirs`.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::cli::CliError;

/// The paths of one local cluster directory.
#[derive(Clone, Debug)]
pub struct Layout {
    /// The cluster directory (absolute).
    pub dir: PathBuf,
}

impl Layout {
    /// The layout of `dir` (made absolute).
    pub fn new(dir: &Path) -> Result<Layout, CliError> {
        let dir = std::path::absolute(dir)
            .map_err(|e| CliError::Local(format!("bad directory {}: {e}", dir.display())))?;
        Ok(Layout { dir })
    }

    /// `DIR/cluster.toml`.
    pub fn cluster_file(&self) -> PathBuf {
        self.dir.join("cluster.toml")
    }

    /// `DIR/node-N`.
    pub fn node_dir(&self, node: u32) -> PathBuf {
        self.dir.join(format!("node-{node}"))
    }

    /// `DIR/node-N/node.toml`.
    pub fn node_config(&self, node: u32) -> PathBuf {
        self.node_dir(node).join("node.toml")
    }

    /// `DIR/node-N/data`.
    pub fn data_dir(&self, node: u32) -> PathBuf {
        self.node_dir(node).join("data")
    }

    /// `DIR/node-N/pid`.
    pub fn pid_file(&self, node: u32) -> PathBuf {
        self.node_dir(node).join("pid")
    }

    /// `DIR/node-N/log`.
    pub fn log_file(&self, node: u32) -> PathBuf {
        self.node_dir(node).join("log")
    }

    /// `DIR/certs`: the development CA and node certificates of the replication transport.
    pub fn certs_dir(&self) -> PathBuf {
        self.dir.join("certs")
    }

    /// Creates `DIR/node-N/data`.
    pub fn create_node_dirs(&self, node: u32) -> Result<(), CliError> {
        let data = self.data_dir(node);
        std::fs::create_dir_all(&data)
            .map_err(|e| CliError::Local(format!("cannot create {}: {e}", data.display())))
    }
}

/// A node configuration file (see `node/shoal-node.example.toml` for each key).
#[derive(Serialize, Debug)]
struct NodeToml {
    node_id: u32,
    cluster_file: PathBuf,
    data_dir: PathBuf,
    shards: u16,
    storage: StorageToml,
    raft: RaftToml,
    limits: LimitsToml,
    runtime: RuntimeToml,
    tls: TlsToml,
}

#[derive(Serialize, Debug)]
struct RuntimeToml {
    spin_before_park_us: u64,
}

#[derive(Serialize, Debug)]
struct TlsToml {
    ca_file: PathBuf,
    cert_file: PathBuf,
    key_file: PathBuf,
}

#[derive(Serialize, Debug)]
struct StorageToml {
    cache_bytes: usize,
    io_memory_bytes: usize,
    wal_segment_bytes: u64,
    wal_flushes_in_flight: usize,
    checkpoint_interval_s: u64,
}

#[derive(Serialize, Debug)]
struct RaftToml {
    tick_ms: u64,
    election_ticks: usize,
    heartbeat_ticks: usize,
    log_kept_for_followers: u64,
    log_cache_bytes: u64,
}

#[derive(Serialize, Debug)]
struct LimitsToml {
    connections_per_shard_max: usize,
    requests_in_flight_per_connection_max: usize,
    idle_timeout_s: u64,
}

/// The text of node `node`'s configuration: the example's defaults, this cluster's paths,
/// `shards` shards, a page cache of `cache_bytes` per shard, and shards that poll
/// `spin_before_park_us` before parking.
pub fn node_config_text(
    layout: &Layout,
    node: u32,
    shards: u16,
    cache_bytes: usize,
    spin_before_park_us: u64,
) -> String {
    let config = NodeToml {
        node_id: node,
        cluster_file: layout.cluster_file(),
        data_dir: layout.data_dir(node),
        shards,
        storage: StorageToml {
            cache_bytes,
            io_memory_bytes: 1 << 20,
            wal_segment_bytes: 64 << 20,
            wal_flushes_in_flight: 4,
            checkpoint_interval_s: 10,
        },
        raft: RaftToml {
            tick_ms: 100,
            election_ticks: 10,
            heartbeat_ticks: 2,
            log_kept_for_followers: 100_000,
            log_cache_bytes: 4 << 20,
        },
        limits: LimitsToml {
            connections_per_shard_max: 4096,
            requests_in_flight_per_connection_max: 1024,
            idle_timeout_s: 600,
        },
        runtime: RuntimeToml {
            spin_before_park_us,
        },
        tls: TlsToml {
            ca_file: layout.certs_dir().join("ca.pem"),
            cert_file: layout.certs_dir().join(format!("node-{node}.pem")),
            key_file: layout.certs_dir().join(format!("node-{node}.key")),
        },
    };
    let text = toml::to_string_pretty(&config).expect("a plain struct serialises");
    format!("# Written by `shoal up`; edit and run `shoal up` again to restart with it.\n{text}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// Every dotted key of a TOML document.
    fn keys(value: &toml::Value, prefix: &str, out: &mut BTreeSet<String>) {
        if let toml::Value::Table(table) = value {
            for (key, inner) in table {
                let path = format!("{prefix}{key}");
                keys(inner, &format!("{path}."), out);
                out.insert(path);
            }
        }
    }

    #[test]
    fn generated_config_has_exactly_the_example_keys() {
        let example_path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../node/shoal-node.example.toml");
        let example: toml::Value =
            toml::from_str(&std::fs::read_to_string(example_path).unwrap()).unwrap();
        let layout = Layout::new(Path::new("/tmp/shoal-x")).unwrap();
        let generated: toml::Value =
            toml::from_str(&node_config_text(&layout, 2, 4, 1 << 20, 200)).unwrap();
        let (mut expected, mut actual) = (BTreeSet::new(), BTreeSet::new());
        keys(&example, "", &mut expected);
        keys(&generated, "", &mut actual);
        assert_eq!(actual, expected);
        assert_eq!(
            generated["data_dir"].as_str(),
            Some("/tmp/shoal-x/node-2/data")
        );
        assert_eq!(
            generated["cluster_file"].as_str(),
            Some("/tmp/shoal-x/cluster.toml")
        );
    }
}
