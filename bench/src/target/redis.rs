//! The Redis target: a minimal RESP2 client over one tokio TCP connection per load task.
//!
//! Why not the `redis` crate: with its tokio feature it brings combine, tokio-util, url,
//! sha1 and more, while the benchmark needs five commands (PING, GET, SET, MGET) on a plain
//! connection, one request at a time. The client below is about 150 lines and its only cost
//! on the measured path is one write and the reads of one reply.
//! Invariant: replies are parsed with bounded nesting (`REPLY_DEPTH_MAX`) and a bounded
//! buffer (`REPLY_BYTES_MAX`); a malformed or oversized reply closes the connection and is
//! reported as an error, and the next operation reconnects (one attempt).
//! Does not pipeline, authenticate or select databases.

use std::io;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{Found, Layout, OpError};
use crate::workload::OpKind;

/// Deepest nesting of arrays accepted in a reply.
const REPLY_DEPTH_MAX: usize = 4;
/// Largest reply accepted (an MGET of a long scan of large values fits).
const REPLY_BYTES_MAX: usize = 256 << 20;
/// Bytes read from the socket at a time.
const READ_CHUNK_BYTES: usize = 64 << 10;

/// A RESP2 reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    Simple(String),
    Error(String),
    Integer(i64),
    Bulk(Option<Vec<u8>>),
    Array(Option<Vec<Reply>>),
}

/// One RESP connection.
pub struct Resp {
    stream: TcpStream,
    out: Vec<u8>,
    buf: Vec<u8>,
}

impl Resp {
    /// Connects to `addr` (HOST:PORT).
    pub async fn connect(addr: &str) -> io::Result<Resp> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Resp {
            stream,
            out: Vec::with_capacity(1024),
            buf: Vec::new(),
        })
    }

    /// Sends one command and reads its reply.
    pub async fn command(&mut self, args: &[&[u8]]) -> io::Result<Reply> {
        self.out.clear();
        encode(&mut self.out, args);
        self.stream.write_all(&self.out).await?;
        loop {
            if let Some((reply, used)) = parse(&self.buf, 0)? {
                self.buf.drain(..used);
                return Ok(reply);
            }
            if self.buf.len() > REPLY_BYTES_MAX {
                return Err(io::Error::other(format!(
                    "reply exceeds {REPLY_BYTES_MAX} bytes"
                )));
            }
            let len = self.buf.len();
            self.buf.resize(len + READ_CHUNK_BYTES, 0);
            let n = self.stream.read(&mut self.buf[len..]).await?;
            self.buf.truncate(len + n);
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "redis closed the connection",
                ));
            }
        }
    }
}

/// Appends a RESP array of bulk strings.
pub fn encode(out: &mut Vec<u8>, args: &[&[u8]]) {
    out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for arg in args {
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
}

fn bad(message: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("bad RESP reply: {message}"),
    )
}

/// Parses one reply from the start of `buf`: `None` if incomplete, else the reply and the
/// bytes it used.
pub fn parse(buf: &[u8], depth: usize) -> io::Result<Option<(Reply, usize)>> {
    if depth > REPLY_DEPTH_MAX {
        return Err(bad("nested too deeply"));
    }
    let Some(line_end) = buf.windows(2).position(|w| w == b"\r\n") else {
        return Ok(None);
    };
    let Some((&tag, line)) = buf[..line_end].split_first() else {
        return Err(bad("empty line"));
    };
    let text = std::str::from_utf8(line).map_err(|_| bad("line is not UTF-8"))?;
    let after = line_end + 2;
    let number = || {
        text.parse::<i64>()
            .map_err(|_| bad("bad length or integer"))
    };
    match tag {
        b'+' => Ok(Some((Reply::Simple(text.to_string()), after))),
        b'-' => Ok(Some((Reply::Error(text.to_string()), after))),
        b':' => Ok(Some((Reply::Integer(number()?), after))),
        b'$' => {
            let len = number()?;
            if len < 0 {
                return Ok(Some((Reply::Bulk(None), after)));
            }
            let len = usize::try_from(len).map_err(|_| bad("length"))?;
            if len > REPLY_BYTES_MAX {
                return Err(bad("bulk string too long"));
            }
            if buf.len() < after + len + 2 {
                return Ok(None);
            }
            if &buf[after + len..after + len + 2] != b"\r\n" {
                return Err(bad("bulk string not ended by CRLF"));
            }
            Ok(Some((
                Reply::Bulk(Some(buf[after..after + len].to_vec())),
                after + len + 2,
            )))
        }
        b'*' => {
            let count = number()?;
            if count < 0 {
                return Ok(Some((Reply::Array(None), after)));
            }
            let count = usize::try_from(count).map_err(|_| bad("count"))?;
            if count > REPLY_BYTES_MAX / 4 {
                return Err(bad("array too long"));
            }
            let mut items = Vec::with_capacity(count.min(1024));
            let mut at = after;
            for _ in 0..count {
                let Some((item, used)) = parse(&buf[at..], depth + 1)? else {
                    return Ok(None);
                };
                items.push(item);
                at += used;
            }
            Ok(Some((Reply::Array(Some(items)), at)))
        }
        _ => Err(bad("unknown type byte")),
    }
}

/// Checks the server answers PING.
pub async fn prepare(addr: &str) -> Result<(), String> {
    let mut conn = Resp::connect(addr)
        .await
        .map_err(|e| format!("connect to redis {addr}: {e}"))?;
    match conn.command(&[b"PING"]).await {
        Ok(Reply::Simple(s)) if s == "PONG" => Ok(()),
        Ok(other) => Err(format!("redis {addr} answered PING with {other:?}")),
        Err(e) => Err(format!("redis {addr}: {e}")),
    }
}

/// One task's connection.
pub struct RedisSession {
    addr: String,
    conn: Option<Resp>,
    layout: Layout,
}

impl RedisSession {
    /// Connects one task.
    pub async fn connect(addr: &str, layout: Layout) -> Result<RedisSession, String> {
        let conn = Resp::connect(addr)
            .await
            .map_err(|e| format!("connect to redis {addr}: {e}"))?;
        Ok(RedisSession {
            addr: addr.to_string(),
            conn: Some(conn),
            layout,
        })
    }

    fn key(&self, record: u64) -> Vec<u8> {
        format!("{}:{record}", self.layout.table).into_bytes()
    }

    async fn command(&mut self, args: &[&[u8]]) -> Result<Reply, OpError> {
        if self.conn.is_none() {
            let conn = Resp::connect(&self.addr).await;
            self.conn = Some(conn.map_err(|e| OpError(format!("reconnect to redis: {e}")))?);
        }
        let conn = self.conn.as_mut().expect("connected just above");
        match conn.command(args).await {
            Ok(Reply::Error(e)) => Err(OpError(e)),
            Ok(reply) => Ok(reply),
            Err(e) => {
                self.conn = None;
                Err(OpError(e.to_string()))
            }
        }
    }

    async fn mget(&mut self, from: u64, count: u64) -> Result<Found, OpError> {
        let keys: Vec<Vec<u8>> = (from..from + count.max(1)).map(|r| self.key(r)).collect();
        let mut args: Vec<&[u8]> = vec![b"MGET"];
        args.extend(keys.iter().map(|k| k.as_slice()));
        match self.command(&args).await? {
            Reply::Array(Some(items))
                if items.iter().any(|i| matches!(i, Reply::Bulk(Some(_)))) =>
            {
                Ok(Found::Yes)
            }
            Reply::Array(_) => Ok(Found::No),
            other => Err(OpError(format!("unexpected MGET reply {other:?}"))),
        }
    }

    async fn set(&mut self, record: u64) -> Result<Found, OpError> {
        let key = self.key(record);
        let value = std::mem::take(&mut self.layout.value);
        let reply = self.command(&[b"SET", &key, &value]).await;
        self.layout.value = value;
        match reply? {
            Reply::Simple(_) => Ok(Found::Yes),
            other => Err(OpError(format!("unexpected SET reply {other:?}"))),
        }
    }

    async fn get(&mut self, record: u64) -> Result<Found, OpError> {
        let key = self.key(record);
        match self.command(&[b"GET", &key]).await? {
            Reply::Bulk(Some(_)) => Ok(Found::Yes),
            Reply::Bulk(None) => Ok(Found::No),
            other => Err(OpError(format!("unexpected GET reply {other:?}"))),
        }
    }

    /// Executes one operation.
    pub async fn execute(
        &mut self,
        kind: OpKind,
        record: u64,
        length: u64,
    ) -> Result<Found, OpError> {
        match kind {
            OpKind::Read => self.get(record).await,
            OpKind::Update | OpKind::Insert => self.set(record).await,
            OpKind::Rmw => {
                self.get(record).await?;
                self.set(record).await
            }
            OpKind::Scan => self.mget(record, length).await,
            OpKind::Query => {
                let per = self.layout.items_per_partition;
                let count = per.min(u64::from(self.layout.page_size));
                self.mget(record * per, count).await
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_parse_whole_or_not_at_all() {
        let text = b"*3\r\n$3\r\nabc\r\n$-1\r\n:42\r\n+OK\r\n";
        let (reply, used) = parse(text, 0).unwrap().unwrap();
        assert_eq!(
            reply,
            Reply::Array(Some(vec![
                Reply::Bulk(Some(b"abc".to_vec())),
                Reply::Bulk(None),
                Reply::Integer(42)
            ]))
        );
        assert_eq!(&text[used..], b"+OK\r\n");
        for cut in 0..used {
            assert!(
                parse(&text[..cut], 0).unwrap().is_none(),
                "prefix of {cut} bytes parsed"
            );
        }
        assert_eq!(
            parse(b"-ERR no\r\n", 0).unwrap().unwrap().0,
            Reply::Error("ERR no".into())
        );
    }

    #[test]
    fn malformed_replies_are_errors() {
        assert!(parse(b"?x\r\n", 0).is_err());
        assert!(parse(b"$3\r\nabcXY", 0).is_err());
        assert!(parse(b"*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n", 0).is_err());
    }

    #[test]
    fn commands_encode_as_bulk_arrays() {
        let mut out = Vec::new();
        encode(&mut out, &[b"GET", b"k"]);
        assert_eq!(out, b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n");
    }
}
