//! The DynamoDB-compatible HTTP gateway behind the `shoal-router` binary: boto3, the AWS
//! CLI and the AWS SDKs talk to it unchanged (dynamodb-semantics.md §3).
//!
//! Map: `server` (HTTP/1.1 on hyper: limits, timeouts, headers, error bodies), `sigv4`
//! (signature verification and the credentials file), `operations` (targets → client
//! calls), `decode` + `fields` (request JSON → wire requests), `encode` (wire responses →
//! response JSON).
//! Invariant: each request goes through the client library straight to the owning (node,
//! shard); the gateway holds no table state of its own.
//! Does not serve transactions, TTL, tags, backups or streams yet (a typed error says so).

mod decode;
mod encode;
mod fields;
pub mod operations;
pub mod server;
pub mod sigv4;

pub use server::{Auth, Gateway, serve};
pub use sigv4::Credentials;
