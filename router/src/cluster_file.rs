//! The cluster file (`cluster.toml`): the cluster's name and one `[[node]]` table per node
//! with its id, host, client and peer port bases and shard count. `shoal up` writes it, the
//! nodes read it, clients take their seed nodes from it.
//!
//! The format is the node's (`shoal_node::config::ClusterFile`); this crate may not depend
//! on `node`, so the same serde shape lives here with the same field names and checks, and a
//! test pins the text both sides read.
//! Invariant: a loaded file has at least one node, unique ids, 1..=[`SHARDS_MAX`] shards per
//! node and port ranges inside 1..=65535.
//! Does not resolve host names or contact nodes.

use std::path::Path;

use serde::{Deserialize, Serialize};

/// Most shards a node may declare (the node's bound).
pub const SHARDS_MAX: u16 = 256;

/// The cluster file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ClusterFile {
    /// Cluster name.
    pub name: String,
    /// The nodes.
    #[serde(rename = "node")]
    pub nodes: Vec<ClusterNode>,
}

/// One node of the cluster file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ClusterNode {
    /// Node id (1-based).
    pub id: u32,
    /// Host that clients and peers connect to.
    pub host: String,
    /// Shard `i` serves clients on `client_port_base + i`.
    pub client_port_base: u16,
    /// Shard `i` talks to peers on `peer_port_base + i`.
    pub peer_port_base: u16,
    /// Number of shards.
    pub shards: u16,
}

impl ClusterFile {
    /// Reads and checks a cluster file.
    pub fn load(path: &Path) -> Result<ClusterFile, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read cluster file {}: {e}", path.display()))?;
        ClusterFile::parse(&text).map_err(|e| format!("cluster file {}: {e}", path.display()))
    }

    /// Parses and checks cluster-file text.
    pub fn parse(text: &str) -> Result<ClusterFile, String> {
        let file: ClusterFile = toml::from_str(text).map_err(|e| e.to_string())?;
        file.validate()?;
        Ok(file)
    }

    /// The file's text (what [`ClusterFile::save`] writes).
    pub fn to_text(&self) -> Result<String, String> {
        toml::to_string_pretty(self).map_err(|e| e.to_string())
    }

    /// Writes the file (through a temporary file and a rename, so readers never see half).
    pub fn save(&self, path: &Path) -> Result<(), String> {
        let text = self.to_text()?;
        let temporary = path.with_extension("toml.tmp");
        std::fs::write(&temporary, text)
            .and_then(|()| std::fs::rename(&temporary, path))
            .map_err(|e| format!("write {}: {e}", path.display()))
    }

    /// Checks ids are unique, shard counts and port ranges are sane.
    pub fn validate(&self) -> Result<(), String> {
        if self.nodes.is_empty() {
            return Err("no [[node]] entries".into());
        }
        let mut ids: Vec<u32> = self.nodes.iter().map(|n| n.id).collect();
        ids.sort_unstable();
        if ids.windows(2).any(|w| w[0] == w[1]) {
            return Err("node ids are not unique".into());
        }
        for node in &self.nodes {
            if node.shards == 0 || node.shards > SHARDS_MAX {
                return Err(format!(
                    "node {}: shards {} not in 1..={SHARDS_MAX}",
                    node.id, node.shards
                ));
            }
            for (what, base) in [
                ("client", node.client_port_base),
                ("peer", node.peer_port_base),
            ] {
                if base == 0 || u32::from(base) + u32::from(node.shards) > 65_536 {
                    return Err(format!(
                        "node {}: {what}_port_base {base} out of range",
                        node.id
                    ));
                }
            }
        }
        Ok(())
    }

    /// The node with id `id`.
    pub fn node(&self, id: u32) -> Option<&ClusterNode> {
        self.nodes.iter().find(|n| n.id == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The text the node's `ClusterFile::save` (toml pretty) produces for a two-node
    /// cluster; both crates must read it the same way.
    const NODE_WRITTEN: &str = r#"name = "local"

[[node]]
id = 1
host = "127.0.0.1"
client_port_base = 7000
peer_port_base = 7100
shards = 2

[[node]]
id = 2
host = "127.0.0.1"
client_port_base = 7200
peer_port_base = 7300
shards = 2
"#;

    #[test]
    fn parses_the_node_format_and_writes_it_back_identically() {
        let file = ClusterFile::parse(NODE_WRITTEN).unwrap();
        assert_eq!(file.nodes.len(), 2);
        assert_eq!(file.node(2).unwrap().client_port_base, 7200);
        assert_eq!(file.to_text().unwrap(), NODE_WRITTEN);
    }

    #[test]
    fn rejects_bad_files_naming_the_problem() {
        let check = |text: &str, expected: &str| {
            let error = ClusterFile::parse(text).unwrap_err();
            assert!(error.contains(expected), "{error}");
        };
        check("name = \"x\"\nnode = []\n", "no [[node]]");
        let duplicate = NODE_WRITTEN.replace("id = 2", "id = 1");
        check(&duplicate, "not unique");
        let ports = NODE_WRITTEN.replace("7200", "65535");
        check(&ports, "client_port_base 65535 out of range");
        let unknown = format!("{NODE_WRITTEN}color = \"red\"\n");
        check(&unknown, "unknown field");
    }
}
