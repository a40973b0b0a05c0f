//! Shoal's tools: the `shoal` command-line tool (`cli`: tables, items, output; `local`: the
//! local cluster of `shoal up` / `down` / `status`) and the repository checks (`tidy`, run
//! by `tests/tidy.rs`).
//!
//! Invariant: the CLI talks to nodes only through the client library and starts nodes only
//! as separate `shoal-node` processes; it never links the node crate. Checks read the
//! working tree only; they never modify it.
#![forbid(unsafe_code)]

pub mod cli;
pub mod local;
pub mod tidy;
