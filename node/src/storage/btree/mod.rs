//! Copy-on-write B+tree of one shard, in one file of fixed-size pages.
//!
//! Invariant: a page reachable from the newest durable checkpoint is never overwritten;
//! every extent carries a CRC32C seeded with its page number and the file id, and the
//! generation that wrote it, checked against the reference that led to it. Does not know
//! about the log: callers apply batches at log positions and call `checkpoint`.

pub mod alloc;
mod checkpoint;
pub mod node;
pub mod page;
pub mod state;
mod tree;

pub use checkpoint::CheckpointInfo;
pub use state::Op;
pub use tree::{
    CheckpointView, KEY_SIZE_MAX, TREE_FILE_NAME, Tree, TreeConfig, TreeStats, VALUE_SIZE_MAX,
    decode_extent_node, read_superblock, validate_ops,
};
