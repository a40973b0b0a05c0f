//! Targets: parsing `NAME=URL` specs, and one `Session` per load task that executes the
//! benchmark operations against Shoal (client library), Redis (RESP over TCP), a
//! DynamoDB-compatible HTTP endpoint (SigV4-signed JSON) or etcd (v3 JSON gateway).
//!
//! Record `r` is item `(pk = "<table>-p<r / items_per_partition>", sk = r)` in Shoal and
//! string key `"<table>:<r>"` in Redis. A scan or query reads consecutive records: in
//! Shoal with Query on the partitions covering them, in Redis with one MGET.
//! Invariant: a session reports every failed operation as an `OpError` with the target's
//! message; it never panics on a target's reply.
//! Does not time operations or choose keys (see `engine`).

pub mod dynamodb;
pub mod etcd;
pub mod http;
pub mod redis;
pub mod shoal;

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::workload::OpKind;

/// A target as given on the command line.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TargetSpec {
    /// Short name used in reports and ratios.
    pub name: String,
    /// The URL as given.
    pub url: String,
    #[serde(skip)]
    pub kind: TargetKind,
}

/// What a target URL names.
#[derive(Debug, Clone, Default)]
pub enum TargetKind {
    /// Placeholder for deserialised reports.
    #[default]
    Unknown,
    /// `shoal://CLUSTER_FILE` or `shoal://HOST:PORT`.
    Shoal(shoal::ShoalAddress),
    /// `redis://HOST:PORT`.
    Redis(String),
    /// `dynamodb+http://HOST:PORT`.
    Dynamo(dynamodb::Endpoint),
    /// `etcd://HOST:PORT[,HOST:PORT...]`.
    Etcd(Vec<String>),
}

/// Parses `URL` or `NAME=URL`; the default name is the URL's scheme.
pub fn parse_target(text: &str) -> Result<TargetSpec, String> {
    let (name, url) = match text.split_once('=') {
        Some((name, url)) if !name.contains("://") => (Some(name.to_string()), url),
        _ => (None, text),
    };
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err(format!(
            "target {url:?} has no scheme: use shoal://CLUSTER_FILE, shoal://HOST:PORT, redis://HOST:PORT, dynamodb+http://HOST:PORT or etcd://HOST:PORT"
        ));
    };
    if rest.is_empty() {
        return Err(format!("target {url:?} names no address"));
    }
    let kind = match scheme {
        "shoal" => TargetKind::Shoal(shoal::ShoalAddress::parse(rest)),
        "redis" => {
            let addr = rest.trim_end_matches('/');
            check_host_port(addr).map_err(|e| format!("target {url:?}: {e}"))?;
            TargetKind::Redis(addr.to_string())
        }
        "dynamodb+http" => {
            let addr = rest.trim_end_matches('/');
            check_host_port(addr).map_err(|e| format!("target {url:?}: {e}"))?;
            let credentials = dynamodb::Credentials::from_env()?;
            TargetKind::Dynamo(dynamodb::Endpoint {
                addr: addr.to_string(),
                credentials,
            })
        }
        "etcd" => {
            let addrs: Vec<String> = rest
                .trim_end_matches('/')
                .split(',')
                .map(str::to_string)
                .collect();
            for addr in &addrs {
                check_host_port(addr).map_err(|e| format!("target {url:?}: {e}"))?;
            }
            TargetKind::Etcd(addrs)
        }
        other => {
            return Err(format!(
                "unknown target scheme {other:?} in {url:?}: use shoal://, redis://, dynamodb+http:// or etcd://"
            ));
        }
    };
    let name = name.unwrap_or_else(|| scheme.to_string());
    if name.is_empty() || name.contains(['/', ',', ' ']) {
        return Err(format!(
            "target name {name:?} must be non-empty, without '/', ',' or spaces"
        ));
    }
    Ok(TargetSpec {
        name,
        url: url.to_string(),
        kind,
    })
}

/// Parses several targets and makes their names unique (`redis`, `redis-2`, ...).
pub fn parse_targets(texts: &[String]) -> Result<Vec<TargetSpec>, String> {
    let mut targets: Vec<TargetSpec> = Vec::new();
    for text in texts {
        let mut target = parse_target(text.trim())?;
        let base = target.name.clone();
        let mut n = 1;
        while targets.iter().any(|t| t.name == target.name) {
            n += 1;
            target.name = format!("{base}-{n}");
        }
        targets.push(target);
    }
    Ok(targets)
}

pub(crate) fn check_host_port(addr: &str) -> Result<(), String> {
    let Some((host, port)) = addr.rsplit_once(':') else {
        return Err(format!("{addr:?} is not HOST:PORT"));
    };
    if host.is_empty() {
        return Err(format!("{addr:?} has no host"));
    }
    match port.parse::<u16>() {
        Ok(p) if p > 0 => Ok(()),
        _ => Err(format!("port {port:?} is not in 1..=65535")),
    }
}

/// A failed operation: the target's message.
#[derive(Debug, Clone)]
pub struct OpError(pub String);

/// What a successful operation found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    /// The item (or at least one item) was there.
    Yes,
    /// A read found no item.
    No,
}

/// Per-thread connection state shared by the thread's sessions.
pub enum ThreadTarget {
    Shoal(shoal::ShoalThread),
    Redis(String),
    Dynamo(dynamodb::Endpoint),
    /// The endpoints and the next one to hand out (tasks go round-robin).
    Etcd(Vec<String>, std::cell::Cell<usize>),
}

/// One load task's handle on the target.
pub enum Session {
    Shoal(shoal::ShoalSession),
    Redis(redis::RedisSession),
    Dynamo(dynamodb::DynamoSession),
    Etcd(etcd::EtcdSession),
}

/// What every session needs to know about the run.
#[derive(Debug, Clone)]
pub struct Layout {
    pub table: String,
    pub items_per_partition: u64,
    pub page_size: u32,
    pub consistent: bool,
    pub value: Vec<u8>,
}

impl Layout {
    /// The layout of a run.
    pub fn new(config: &Config) -> Layout {
        // Printable, deterministic and incompressible enough for the targets we measure.
        let value = (0..config.value_size_bytes)
            .map(|i| b'a' + (crate::keys::fnv64(i as u64 ^ config.seed) % 26) as u8)
            .collect();
        Layout {
            table: config.table.clone(),
            items_per_partition: config.items_per_partition,
            page_size: config.page_size,
            consistent: config.consistent,
            value,
        }
    }
}

impl TargetSpec {
    /// Creates what the run needs on the target (Shoal: the table), once per run.
    pub async fn prepare(&self, layout: &Layout) -> Result<(), String> {
        match &self.kind {
            TargetKind::Shoal(address) => shoal::prepare(address, layout).await,
            TargetKind::Redis(addr) => redis::prepare(addr).await,
            TargetKind::Dynamo(endpoint) => {
                dynamodb::DynamoSession::connect(endpoint, layout.clone())
                    .await?
                    .prepare()
                    .await
            }
            TargetKind::Etcd(addrs) => etcd::prepare(addrs, layout).await,
            TargetKind::Unknown => Err("target without a kind".into()),
        }
    }

    /// Connects one load thread.
    pub async fn connect_thread(&self, op_timeout: Duration) -> Result<ThreadTarget, String> {
        match &self.kind {
            TargetKind::Shoal(address) => Ok(ThreadTarget::Shoal(
                shoal::ShoalThread::connect(address, op_timeout).await?,
            )),
            TargetKind::Redis(addr) => Ok(ThreadTarget::Redis(addr.clone())),
            TargetKind::Dynamo(endpoint) => Ok(ThreadTarget::Dynamo(endpoint.clone())),
            TargetKind::Etcd(addrs) => Ok(ThreadTarget::Etcd(addrs.clone(), Default::default())),
            TargetKind::Unknown => Err("target without a kind".into()),
        }
    }
}

impl ThreadTarget {
    /// A session for one task.
    pub async fn session(&self, layout: &Layout) -> Result<Session, String> {
        match self {
            ThreadTarget::Shoal(thread) => Ok(Session::Shoal(thread.session(layout.clone()))),
            ThreadTarget::Redis(addr) => Ok(Session::Redis(
                redis::RedisSession::connect(addr, layout.clone()).await?,
            )),
            ThreadTarget::Dynamo(endpoint) => Ok(Session::Dynamo(
                dynamodb::DynamoSession::connect(endpoint, layout.clone()).await?,
            )),
            ThreadTarget::Etcd(addrs, next) => {
                let addr = &addrs[next.get() % addrs.len()];
                next.set(next.get() + 1);
                Ok(Session::Etcd(
                    etcd::EtcdSession::connect(addr, layout.clone()).await?,
                ))
            }
        }
    }
}

impl Session {
    /// Executes one operation on record `record` (scan: `length` records from it; query:
    /// partition `record`).
    pub async fn execute(
        &mut self,
        kind: OpKind,
        record: u64,
        length: u64,
    ) -> Result<Found, OpError> {
        match self {
            Session::Shoal(s) => s.execute(kind, record, length).await,
            Session::Redis(s) => s.execute(kind, record, length).await,
            Session::Dynamo(s) => s.execute(kind, record, length).await,
            Session::Etcd(s) => s.execute(kind, record, length).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_with_default_and_explicit_names() {
        let t = parse_targets(&[
            "redis://127.0.0.1:6379".into(),
            "redis://127.0.0.1:6380".into(),
        ])
        .unwrap();
        assert_eq!(
            (t[0].name.as_str(), t[1].name.as_str()),
            ("redis", "redis-2")
        );
        let t = parse_target("fsync=redis://localhost:1").unwrap();
        assert_eq!(t.name, "fsync");
        assert_eq!(t.url, "redis://localhost:1");
    }

    #[test]
    fn bad_targets_say_why() {
        let e = parse_target("localhost:6379").unwrap_err();
        assert!(e.contains("no scheme"), "{e}");
        let e = parse_target("redis://localhost:99999").unwrap_err();
        assert!(e.contains("99999"), "{e}");
        let e = parse_target("mysql://x:1").unwrap_err();
        assert!(e.contains("unknown target scheme"), "{e}");
    }
}
