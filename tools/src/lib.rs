//! Repository checks run as tests (`tools/tests/tidy.rs`), and later the `shoal` CLI.
//!
//! Invariant: checks read the working tree only; they never modify it.
#![forbid(unsafe_code)]

pub mod tidy;
