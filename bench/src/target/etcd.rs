//! The `etcd://HOST:PORT[,HOST:PORT...]` target: etcd v3 through its JSON gateway
//! (`POST /v3/kv/put`, `/v3/kv/range`, base64 keys and values), one HTTP/1.1 keep-alive
//! connection per load task, tasks spread round-robin over the endpoints given.
//!
//! Record `r` is key `"<table>/<r, 12 digits>"`, so consecutive records are consecutive
//! keys and a scan or query is one range request with a limit. Reads are linearizable with
//! `--consistent` and serializable (local to the member) without, matching the meaning of
//! the flag for Shoal.
//! Invariant: a non-200 status or a reply without a `header` is an error; a broken
//! connection is replaced on the next operation.
//! Does not use gRPC, leases, transactions or watches.

use serde_json::{Value, json};

use super::http::{Http, base64};
use super::{Found, Layout, OpError};
use crate::workload::OpKind;

/// One task's connection.
pub struct EtcdSession {
    addr: String,
    conn: Option<Http>,
    layout: Layout,
}

/// Checks that the first endpoint answers a range request.
pub async fn prepare(addrs: &[String], layout: &Layout) -> Result<(), String> {
    let mut session = EtcdSession::connect(&addrs[0], layout.clone()).await?;
    session
        .range(0, 1)
        .await
        .map(|_| ())
        .map_err(|OpError(e)| format!("etcd {}: {e}", addrs[0]))
}

impl EtcdSession {
    /// Connects one task to `addr`.
    pub async fn connect(addr: &str, layout: Layout) -> Result<EtcdSession, String> {
        let conn = Http::connect(addr)
            .await
            .map_err(|e| format!("connect to etcd {addr}: {e}"))?;
        Ok(EtcdSession {
            addr: addr.to_string(),
            conn: Some(conn),
            layout,
        })
    }

    fn key(&self, record: u64) -> String {
        format!("{}/{record:012}", self.layout.table)
    }

    async fn call(&mut self, path: &str, body: &Value) -> Result<Value, OpError> {
        let body = serde_json::to_vec(body).expect("JSON values serialise");
        let head = format!(
            "POST {path} HTTP/1.1\r\nhost: {}\r\ncontent-type: application/json\r\n\
             content-length: {}\r\n\r\n",
            self.addr,
            body.len()
        );
        if self.conn.is_none() {
            let conn = Http::connect(&self.addr).await;
            self.conn = Some(conn.map_err(|e| OpError(format!("reconnect: {e}")))?);
        }
        let conn = self.conn.as_mut().expect("connected just above");
        let (status, response) = match conn.post(&head, &body).await {
            Ok(reply) => reply,
            Err(e) => {
                self.conn = None;
                return Err(OpError(e.to_string()));
            }
        };
        if !conn.reusable() {
            self.conn = None;
        }
        let value: Value = serde_json::from_slice(&response).unwrap_or(Value::Null);
        if status != 200 || value.get("header").is_none() {
            let message = value["message"]
                .as_str()
                .or(value["error"].as_str())
                .unwrap_or("");
            return Err(OpError(format!("HTTP {status}: {message}")));
        }
        Ok(value)
    }

    async fn put(&mut self, record: u64) -> Result<Found, OpError> {
        let body = json!({"key": base64(self.key(record).as_bytes()), "value": base64(&self.layout.value)});
        self.call("/v3/kv/put", &body).await?;
        Ok(Found::Yes)
    }

    /// Reads up to `count` consecutive records from `from`; returns how many exist.
    async fn range(&mut self, from: u64, count: u64) -> Result<u64, OpError> {
        let mut body = json!({
            "key": base64(self.key(from).as_bytes()),
            "serializable": !self.layout.consistent,
        });
        if count > 1 {
            body["range_end"] = json!(base64(self.key(from + count).as_bytes()));
            body["limit"] = json!(count);
        }
        let reply = self.call("/v3/kv/range", &body).await?;
        Ok(reply["kvs"].as_array().map_or(0, |kvs| kvs.len() as u64))
    }

    /// Executes one operation.
    pub async fn execute(
        &mut self,
        kind: OpKind,
        record: u64,
        length: u64,
    ) -> Result<Found, OpError> {
        let found = |n: u64| if n > 0 { Found::Yes } else { Found::No };
        match kind {
            OpKind::Read => self.range(record, 1).await.map(found),
            OpKind::Update | OpKind::Insert => self.put(record).await,
            OpKind::Rmw => {
                self.range(record, 1).await?;
                self.put(record).await
            }
            OpKind::Scan => self.range(record, length.max(1)).await.map(found),
            OpKind::Query => {
                let per = self.layout.items_per_partition;
                let count = per.min(u64::from(self.layout.page_size)).max(1);
                self.range(record * per, count).await.map(found)
            }
        }
    }
}
