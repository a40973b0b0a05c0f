//! Storage-engine integration tests: the write-ahead log, the B+tree engine, crash recovery
//! and fault injection, over both the simulated disk and real O_DIRECT files.
//!
//! One test binary for the whole crate keeps link times down (CONVENTIONS §11).

mod engine;
mod model;
mod raft;
mod server;
mod support;
mod tools;
mod wal;
