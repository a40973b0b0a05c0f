//! A node's own client for the binary protocol: how a shard asks the metadata shard for the
//! catalog, and forwards the (rare, cold) control-plane requests it receives.
//!
//! One connection per target, opened lazily, one request at a time (control-plane traffic
//! is tiny), every call bounded by a timeout; a broken connection is dropped and reopened on
//! the next call. Never used on the data path: data requests are never forwarded.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use futures::io::{AsyncReadExt, AsyncWriteExt};
use futures::lock::Mutex;
use glommio::net::TcpStream;
use rkyv::api::high::HighValidator;
use rkyv::bytecheck::CheckBytes;
use rkyv::rancor;
use shoal_wire::message::{ErrorReply, Message, MessageKind};
use shoal_wire::{Error, ErrorKind, FrameReader, encode_frame};

/// Time allowed for one call, connection included.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// A client of one shard's port.
#[derive(Clone)]
pub struct NodeClient {
    addr: SocketAddr,
    conn: Rc<Mutex<Option<TcpStream>>>,
    next_id: Rc<RefCell<u64>>,
}

impl NodeClient {
    /// A client for the shard listening on `addr` (nothing is opened yet).
    pub fn new(addr: SocketAddr) -> Self {
        Self {
            addr,
            conn: Rc::new(Mutex::new(None)),
            next_id: Rc::new(RefCell::new(1)),
        }
    }

    /// Sends `request` and decodes its answer as `Resp`, or the error reply as an error.
    pub async fn call<Req, Resp>(&self, request: &Req) -> Result<Resp, Error>
    where
        Req: Message,
        Resp: Message,
        Resp::Archived: for<'v> CheckBytes<HighValidator<'v, rancor::Error>>
            + rkyv::Deserialize<Resp, rkyv::api::high::HighDeserializer<rancor::Error>>,
    {
        let id = {
            let mut n = self.next_id.borrow_mut();
            *n += 1;
            *n
        };
        let frame = encode_frame(id, request).map_err(|e| internal(format!("encode: {e}")))?;
        let answer = glommio::timer::timeout(CALL_TIMEOUT, async {
            self.exchange(id, &frame)
                .await
                .map_err(|e| glommio::GlommioError::IoError(std::io::Error::other(e)))
        })
        .await
        .map_err(|e| unavailable(format!("{} did not answer: {e}", self.addr)))?;
        decode_answer::<Resp>(&answer)
    }

    async fn exchange(&self, id: u64, frame: &[u8]) -> Result<Vec<u8>, String> {
        let mut guard = self.conn.lock().await;
        if guard.is_none() {
            let stream = TcpStream::connect(self.addr)
                .await
                .map_err(|e| format!("connect {}: {e}", self.addr))?;
            stream.set_nodelay(true).map_err(|e| e.to_string())?;
            *guard = Some(stream);
        }
        let stream = guard.as_mut().expect("connected above");
        let result = round_trip(stream, id, frame).await;
        if result.is_err() {
            *guard = None;
        }
        result
    }
}

async fn round_trip(stream: &mut TcpStream, id: u64, frame: &[u8]) -> Result<Vec<u8>, String> {
    stream
        .write_all(frame)
        .await
        .map_err(|e| format!("send: {e}"))?;
    stream.flush().await.map_err(|e| format!("send: {e}"))?;
    let mut reader = FrameReader::new();
    let mut buf = vec![0u8; 64 << 10];
    loop {
        if let Some(f) = reader
            .next_frame()
            .map_err(|e| format!("bad answer: {e}"))?
        {
            if f.header.request_id == id {
                let mut whole = Vec::with_capacity(f.payload.len() + 2);
                whole.extend_from_slice(&f.header.kind.code().to_le_bytes());
                whole.extend_from_slice(f.payload);
                return Ok(whole);
            }
            continue;
        }
        let n = stream
            .read(&mut buf)
            .await
            .map_err(|e| format!("receive: {e}"))?;
        if n == 0 {
            return Err("connection closed by peer".into());
        }
        reader.extend(&buf[..n]);
    }
}

/// Decodes `kind code ‖ payload` as `Resp` or as an error reply.
fn decode_answer<Resp>(answer: &[u8]) -> Result<Resp, Error>
where
    Resp: Message,
    Resp::Archived: for<'v> CheckBytes<HighValidator<'v, rancor::Error>>
        + rkyv::Deserialize<Resp, rkyv::api::high::HighDeserializer<rancor::Error>>,
{
    let code = u16::from_le_bytes([answer[0], answer[1]]);
    let payload = &answer[2..];
    let kind = MessageKind::from_code(code).ok_or_else(|| internal(format!("kind {code:#06x}")))?;
    if kind == MessageKind::ErrorReply {
        let archived = shoal_wire::frame::access::<ErrorReply>(kind, payload)
            .map_err(|e| internal(e.to_string()))?;
        let reply: ErrorReply = rkyv::deserialize::<ErrorReply, rancor::Error>(archived)
            .map_err(|e| internal(e.to_string()))?;
        return Err(reply.to_error());
    }
    if kind != Resp::KIND {
        return Err(internal(format!(
            "expected {}, got {}",
            Resp::KIND.name(),
            kind.name()
        )));
    }
    let archived =
        shoal_wire::frame::access::<Resp>(kind, payload).map_err(|e| internal(e.to_string()))?;
    rkyv::deserialize::<Resp, rancor::Error>(archived).map_err(|e| internal(e.to_string()))
}

fn internal(message: String) -> Error {
    Error::new(ErrorKind::InternalServerError, message)
}

fn unavailable(message: String) -> Error {
    Error::new(ErrorKind::ServiceUnavailable, message)
}
