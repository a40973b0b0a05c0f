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
    timeout: Duration,
}

impl NodeClient {
    /// A client for the shard listening on `addr` (nothing is opened yet).
    pub fn new(addr: SocketAddr) -> Self {
        Self::with_timeout(addr, CALL_TIMEOUT)
    }

    /// A client whose calls each get `timeout`.
    pub fn with_timeout(addr: SocketAddr, timeout: Duration) -> Self {
        Self {
            addr,
            conn: Rc::new(Mutex::new(None)),
            next_id: Rc::new(RefCell::new(1)),
            timeout,
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
        let answer = glommio::timer::timeout(self.timeout, async {
            self.exchange(id, &frame)
                .await
                .map_err(|e| glommio::GlommioError::IoError(std::io::Error::other(e)))
        })
        .await;
        match answer {
            Ok(answer) => decode_answer::<Resp>(&answer),
            Err(e) => {
                // A call cut off by its timeout may leave part of its answer (or of its
                // request) in the stream: the next call would read from inside a frame.
                // Only a fresh connection is known to start at a frame boundary.
                self.conn.lock().await.take();
                Err(unavailable(format!("{} did not answer: {e}", self.addr)))
            }
        }
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

/// A client of the metadata group: shard 0 of each metadata replica's node. Calls go to the
/// replica believed to lead; a `NotLeader` answer naming another replica moves there, an
/// unreachable or leaderless replica moves to the next one, a bounded number of times.
#[derive(Clone)]
pub struct MetaClient {
    replicas: Rc<Vec<(u32, NodeClient)>>,
    current: Rc<std::cell::Cell<usize>>,
}

/// Pause before trying again while the metadata group elects a leader.
const META_RETRY_PAUSE: Duration = Duration::from_millis(100);
/// Rounds over all replicas before a call gives up.
const META_ROUNDS_MAX: usize = 10;

impl MetaClient {
    /// A client for the metadata replicas `(node id, address of its shard 0)`.
    pub fn new(replicas: Vec<(u32, SocketAddr)>) -> Self {
        Self {
            replicas: Rc::new(
                replicas
                    .into_iter()
                    .map(|(node, addr)| (node, NodeClient::new(addr)))
                    .collect(),
            ),
            current: Rc::new(std::cell::Cell::new(0)),
        }
    }

    /// The node of the replica calls go to first: the one that answered last, or that the
    /// last `NotLeader` answer named.
    pub fn believed_leader(&self) -> Option<u32> {
        let count = self.replicas.len();
        (count > 0).then(|| self.replicas[self.current.get() % count].0)
    }

    /// Sends `request` to the metadata leader (following hints) and decodes its answer.
    pub async fn call<Req, Resp>(&self, request: &Req) -> Result<Resp, Error>
    where
        Req: Message,
        Resp: Message,
        Resp::Archived: for<'v> CheckBytes<HighValidator<'v, rancor::Error>>
            + rkyv::Deserialize<Resp, rkyv::api::high::HighDeserializer<rancor::Error>>,
    {
        let count = self.replicas.len();
        let mut last = unavailable("no metadata replica".into());
        for attempt in 0..count * META_ROUNDS_MAX {
            let at = self.current.get() % count;
            let result = self.replicas[at].1.call::<Req, Resp>(request).await;
            let error = match result {
                Ok(answer) => return Ok(answer),
                Err(e) => e,
            };
            match error.kind {
                ErrorKind::NotLeader { hint: Some(leader) } => {
                    match self.replicas.iter().position(|(n, _)| *n == leader.node.0) {
                        Some(i) if i != at => self.current.set(i),
                        _ => self.current.set(at + 1),
                    }
                }
                ErrorKind::NotLeader { hint: None } | ErrorKind::ServiceUnavailable => {
                    self.current.set(at + 1);
                }
                _ => return Err(error),
            }
            last = error;
            if attempt % count == count - 1 {
                crate::rt::sleep(META_RETRY_PAUSE).await;
            }
        }
        Err(last)
    }
}

fn internal(message: String) -> Error {
    Error::new(ErrorKind::InternalServerError, message)
}

fn unavailable(message: String) -> Error {
    Error::new(ErrorKind::ServiceUnavailable, message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use shoal_wire::message::{ListTablesRequest, ListTablesResponse};
    use std::io::{Read, Write};

    /// Answers every ListTables on every connection with one name; the answer to the first
    /// request of all comes in two parts, the second long after the caller gave up.
    fn serve_with_a_torn_first_answer(listener: std::net::TcpListener, late: Duration) {
        let mut first = true;
        // Two connections: the torn one and the one that replaces it.
        for stream in listener.incoming().take(2) {
            let Ok(mut stream) = stream else { return };
            let torn = std::mem::take(&mut first);
            std::thread::spawn(move || {
                let mut reader = FrameReader::new();
                let mut buf = [0u8; 4096];
                let mut torn = torn;
                loop {
                    let id = loop {
                        if let Ok(Some(f)) = reader.next_frame() {
                            break f.header.request_id;
                        }
                        match stream.read(&mut buf) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => reader.extend(&buf[..n]),
                        }
                    };
                    let answer = ListTablesResponse {
                        table_names: vec!["t".into()],
                        last_evaluated_table_name: None,
                    };
                    let bytes = encode_frame(id, &answer).expect("encode");
                    if std::mem::take(&mut torn) {
                        let _ = stream.write_all(&bytes[..10]);
                        std::thread::sleep(late);
                        let _ = stream.write_all(&bytes[10..]);
                    } else if stream.write_all(&bytes).is_err() {
                        return;
                    }
                }
            });
        }
    }

    #[test]
    fn a_call_cut_off_mid_answer_does_not_leave_the_next_one_reading_inside_a_frame() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        std::thread::spawn(move || {
            serve_with_a_torn_first_answer(listener, Duration::from_millis(300))
        });
        let (first, second) =
            crate::rt::run_local("node-client-test", 1 << 20, move || async move {
                let client = NodeClient::with_timeout(addr, Duration::from_millis(100));
                let request = ListTablesRequest {
                    exclusive_start_table_name: None,
                    limit: None,
                };
                let first = client.call::<_, ListTablesResponse>(&request).await;
                // The rest of the first answer arrives meanwhile.
                crate::rt::sleep(Duration::from_millis(500)).await;
                let second = client.call::<_, ListTablesResponse>(&request).await;
                (first, second)
            })
            .expect("executor");
        let error = first.expect_err("the first call times out");
        assert_eq!(error.kind, ErrorKind::ServiceUnavailable, "{error}");
        assert_eq!(
            second.expect("the second call is answered").table_names,
            ["t"]
        );
    }
}
