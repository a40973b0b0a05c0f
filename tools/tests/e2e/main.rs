//! End-to-end tests: real `shoal-node` processes on free 127.0.0.1 ports in temporary
//! directories, started with `shoal up`, driven through the client library and through the
//! `shoal` CLI, and through the HTTP gateway with boto3 and the AWS CLI (`gateway`,
//! running `tools/tests/python/`) (CONVENTIONS §11: one integration-test binary per crate).
//!
//! Every cluster is torn down by a guard, also when a test fails; every wait is bounded.
//! The `shoal-node` binary must be built (`cargo test --workspace` builds it; otherwise
//! `cargo build -p shoal-node`).

mod bad_input;
mod cli;
mod client;
mod crash;
mod gateway;
mod harness;
mod linearizability;
mod netfilter;
mod race;
mod replication;
