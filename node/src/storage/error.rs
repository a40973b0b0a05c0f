//! Errors of the storage layer.
//!
//! Operating errors are values: I/O failures, corruption found on disk, requests beyond a
//! limit, a fail-stopped shard. Corruption always names the file, the byte offset and the
//! reason, so an operator (or `shoal-node fsck`) can find it; it is never "repaired" by
//! guessing.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Everything that can go wrong below the request layer.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    /// An earlier write or fsync failed; this shard's storage stopped (fail-stop). Restart
    /// the node after fixing the cause; recovery keeps every acknowledged write.
    #[error("storage is fail-stopped: {0}")]
    Failed(String),
    /// An I/O call failed without compromising durability (an open, a read, a stat).
    #[error("{op} failed on {path}: {source}")]
    Io {
        /// The operation.
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: Arc<io::Error>,
    },
    /// Bytes on disk failed verification. Never returned as data.
    #[error("corruption in {path} at offset {offset}: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Byte offset of the damaged structure.
        offset: u64,
        /// What failed.
        reason: String,
    },
    /// A key, value or record exceeds a limit.
    #[error("{what} of {size} bytes exceeds the limit of {max} bytes")]
    TooLarge {
        /// What was too large.
        what: &'static str,
        /// Its size.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// The data directory cannot be used as asked (wrong format version, bad config, ...).
    #[error("{0}")]
    Invalid(String),
    /// The engine was closed.
    #[error("storage engine is closed")]
    Closed,
}

impl StorageError {
    /// An I/O error of `op` on `path`.
    pub fn io(op: &'static str, path: &Path, source: io::Error) -> Self {
        StorageError::Io {
            op,
            path: path.to_path_buf(),
            source: Arc::new(source),
        }
    }

    /// Corruption in `path` at `offset`.
    pub fn corrupt(path: &Path, offset: u64, reason: impl Into<String>) -> Self {
        StorageError::Corrupt {
            path: path.to_path_buf(),
            offset,
            reason: reason.into(),
        }
    }
}
