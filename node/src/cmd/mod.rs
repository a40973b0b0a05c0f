//! The `shoal-node` subcommands other than serving: `stress`, `fsck` and `bench-storage`.
//!
//! Each is a library function so tests can call it; `main.rs` only parses flags.

pub mod bench_storage;
pub mod stress;
