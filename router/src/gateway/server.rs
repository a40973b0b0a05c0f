//! The HTTP/1.1 side of the gateway: accept connections, bound them, read one request at a
//! time, check its signature, run the operation, answer with DynamoDB's headers.
//!
//! Invariant: every input is bounded before it is buffered — headers
//! ([`HEADERS_SIZE_MAX`], [`HEADERS_COUNT_MAX`]), body ([`BODY_SIZE_MAX`] on the wire and
//! after gzip), JSON nesting (serde_json's recursion limit of 128, which a 32-level item
//! fits in), connections ([`CONNECTIONS_MAX`]); a connection that stalls while sending
//! headers or a body, or stays idle past [`IDLE_TIMEOUT`], is closed. Every answer carries
//! `x-amzn-RequestId` and `x-amz-crc32` (CRC-32 of the exact body bytes). No input makes
//! the gateway panic, and a failing connection never affects another.
//!
//! Estimate: a GetItem costs the gateway one JSON parse and print of ~200 bytes, two
//! SHA-256 and one HMAC-SHA256 (SigV4 with the day's signing key cached), and one extra
//! loopback hop. Measured (bench/README.md): ~27 µs of gateway CPU per GetItem, half of
//! it the kernel's four loopback TCP syscalls; 0.36 of the binary protocol's GetItem and
//! 0.64 of its PutItem throughput when gateway, node and load generator share two cores.
//! Does not terminate TLS (put a proxy in front), and does not compress responses.

use std::convert::Infallible;
use std::io::Read;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::task::Poll;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderName, HeaderValue};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use serde_json::Value;
use shoal_wire::{Error as WireError, ErrorKind};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use super::operations::{self, Target};
use super::sigv4::{self, Credentials, SignedRequest};
use crate::client::Client;
use crate::error::Error;

/// Largest request body, as DynamoDB's (dynamodb-semantics.md §3.1).
pub const BODY_SIZE_MAX: usize = 16 * 1024 * 1024;
/// Largest request line plus headers.
pub const HEADERS_SIZE_MAX: usize = 16 * 1024;
/// Most headers in one request.
pub const HEADERS_COUNT_MAX: usize = 100;
/// Most connections served at once; further ones wait in the listen backlog.
pub const CONNECTIONS_MAX: usize = 4096;
/// Time a client has to send a request's headers once it started.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Time a client has to send a request's body once its headers arrived.
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// A connection with no request in flight for this long is closed.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// How often a connection checks whether it went idle.
const IDLE_CHECK_PERIOD: Duration = Duration::from_secs(1);
/// Time a closing connection gets to finish its last answer.
const CLOSE_GRACE: Duration = Duration::from_secs(10);

const CONTENT_TYPE: &str = "application/x-amz-json-1.0";

/// How requests are authenticated.
#[derive(Clone, Debug)]
pub enum Auth {
    /// SigV4 against these credentials.
    SigV4(Credentials),
    /// Anything goes (local experiments only).
    None,
}

/// What every connection shares.
#[derive(Debug)]
pub struct Gateway {
    client: Client,
    auth: Auth,
    request_ids: AtomicU64,
    request_id_seed: u64,
}

impl Gateway {
    /// A gateway sending through `client`.
    pub fn new(client: Client, auth: Auth) -> Gateway {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        Gateway {
            client,
            auth,
            request_ids: AtomicU64::new(0),
            request_id_seed: seed ^ u64::from(std::process::id()).rotate_left(40),
        }
    }

    fn next_request_id(&self) -> String {
        let n = self.request_ids.fetch_add(1, Ordering::Relaxed);
        format!("{:016X}{:016X}", self.request_id_seed, n)
    }
}

/// Serves connections from `listener` until the process ends.
pub async fn serve(listener: TcpListener, gateway: Arc<Gateway>) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(CONNECTIONS_MAX));
    // Runs for the life of the process.
    loop {
        let permit = Arc::clone(&slots)
            .acquire_owned()
            .await
            .expect("the semaphore is never closed");
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of file descriptors and the like: pause instead of spinning.
                tracing::warn!(%error, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let gateway = Arc::clone(&gateway);
        tokio::spawn(async move {
            serve_connection(stream, peer, gateway).await;
            drop(permit);
        });
    }
}

/// Activity of one connection, for the idle check.
struct Activity {
    in_flight: AtomicU32,
    last_ms: AtomicU64,
    start: Instant,
}

impl Activity {
    fn touch(&self) {
        let ms = self.start.elapsed().as_millis() as u64;
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    fn idle_for(&self) -> Duration {
        let ms = self.start.elapsed().as_millis() as u64;
        Duration::from_millis(ms.saturating_sub(self.last_ms.load(Ordering::Relaxed)))
    }
}

async fn serve_connection(stream: tokio::net::TcpStream, peer: SocketAddr, gateway: Arc<Gateway>) {
    let activity = Arc::new(Activity {
        in_flight: AtomicU32::new(0),
        last_ms: AtomicU64::new(0),
        start: Instant::now(),
    });
    let service_activity = Arc::clone(&activity);
    let service = hyper::service::service_fn(move |request| {
        let gateway = Arc::clone(&gateway);
        let activity = Arc::clone(&service_activity);
        async move {
            activity.in_flight.fetch_add(1, Ordering::Relaxed);
            let response = handle(&gateway, request).await;
            activity.touch();
            activity.in_flight.fetch_sub(1, Ordering::Relaxed);
            Ok::<_, Infallible>(response)
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .max_header_size(HEADERS_SIZE_MAX)
        .max_headers(HEADERS_COUNT_MAX)
        .keep_alive(true);
    let connection = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(connection);
    // Bounded: ends when the connection ends or after it has been idle for IDLE_TIMEOUT.
    loop {
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(error) = result {
                    tracing::debug!(%peer, %error, "connection ended with an error");
                }
                return;
            }
            _ = tokio::time::sleep(IDLE_CHECK_PERIOD) => {
                let idle = activity.in_flight.load(Ordering::Relaxed) == 0
                    && activity.idle_for() >= IDLE_TIMEOUT;
                if idle {
                    break;
                }
            }
        }
    }
    tracing::debug!(%peer, "closing idle connection");
    connection.as_mut().graceful_shutdown();
    let _ = tokio::time::timeout(CLOSE_GRACE, connection).await;
}

/// One HTTP request → one HTTP response; never fails.
async fn handle(gateway: &Gateway, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let request_id = gateway.next_request_id();
    if request.method() == hyper::Method::GET && request.uri().path() == "/" {
        // DynamoDB answers health checks on GET /.
        return respond(
            StatusCode::OK,
            "healthy: shoal".into(),
            &request_id,
            "text/plain",
        );
    }
    let answer = answer(gateway, request).await;
    let (status, body) = match answer {
        Ok(body) => (StatusCode::OK, body),
        Err(failure) => failure.into_status_and_body(),
    };
    respond(status, body, &request_id, CONTENT_TYPE)
}

/// Why a request failed, as the client will see it.
enum Failure {
    /// A DynamoDB error (from the gateway itself or from a node).
    Service(Error),
    /// The body is larger than [`BODY_SIZE_MAX`].
    TooLarge,
}

impl From<Error> for Failure {
    fn from(error: Error) -> Failure {
        Failure::Service(error)
    }
}

impl From<WireError> for Failure {
    fn from(error: WireError) -> Failure {
        Failure::Service(error.into())
    }
}

impl Failure {
    fn into_status_and_body(self) -> (StatusCode, Vec<u8>) {
        match self {
            Failure::TooLarge => {
                let body = serde_json::json!({
                    "__type": "com.amazon.coral.service#RequestEntityTooLarge",
                    "message": format!("Request body exceeds {BODY_SIZE_MAX} bytes"),
                });
                (
                    StatusCode::PAYLOAD_TOO_LARGE,
                    serde_json::to_vec(&body).expect("a JSON value always serialises"),
                )
            }
            Failure::Service(error) => error_body(&error),
        }
    }
}

/// The status and JSON body of an error answer.
pub(crate) fn error_body(error: &Error) -> (StatusCode, Vec<u8>) {
    let mut body = serde_json::Map::new();
    let status = match error.service() {
        Some(service) => {
            let kind = service.error.kind;
            body.insert("__type".into(), Value::String(kind.amz_type()));
            body.insert(
                "message".into(),
                Value::String(service.error.message.clone()),
            );
            if let Some(item) = &service.item {
                body.insert("Item".into(), super::encode::item(item));
            }
            if !service.cancellation_reasons.is_empty() {
                let reasons = service
                    .cancellation_reasons
                    .iter()
                    .map(|r| {
                        super::encode::Object::default()
                            .put("Code", Value::String(r.code.as_str().into()))
                            .opt("Message", r.message.clone().map(Value::String))
                            .opt("Item", r.item.as_ref().map(super::encode::item))
                            .done()
                    })
                    .collect();
                body.insert("CancellationReasons".into(), Value::Array(reasons));
            }
            kind.http_status()
        }
        None => {
            // Transport, timeout or protocol trouble inside the cluster: the outcome of a
            // write is unknown, which is what DynamoDB's InternalServerError means.
            let kind = ErrorKind::InternalServerError;
            body.insert("__type".into(), Value::String(kind.amz_type()));
            body.insert("message".into(), Value::String(error.message()));
            kind.http_status()
        }
    };
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (
        status,
        serde_json::to_vec(&Value::Object(body)).expect("a JSON value always serialises"),
    )
}

async fn answer(gateway: &Gateway, request: Request<Incoming>) -> Result<Vec<u8>, Failure> {
    let (parts, body) = request.into_parts();
    let declared = parts
        .headers
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > BODY_SIZE_MAX as u64) {
        return Err(Failure::TooLarge);
    }
    let body = read_body(body).await?;
    let headers: Vec<(&str, &str)> = parts
        .headers
        .iter()
        .map(|(name, value)| (name.as_str(), value.to_str().unwrap_or("")))
        .collect();
    if let Auth::SigV4(credentials) = &gateway.auth {
        let signed = SignedRequest {
            method: parts.method.as_str(),
            path: parts.uri.path(),
            query: parts.uri.query().unwrap_or(""),
            headers: &headers,
            body: &body,
        };
        sigv4::verify(credentials, &signed, unix_now_s())?;
    }
    let target = parts
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let operation = match operations::target(target) {
        Target::Served(operation) => operation,
        Target::NotSupportedYet(operation) => {
            return Err(operations::not_supported_yet(operation).into());
        }
        Target::Unknown => return Err(operations::unknown_operation().into()),
    };
    let gzip = parts
        .headers
        .get(hyper::header::CONTENT_ENCODING)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"gzip"));
    let unzipped;
    let body = if gzip {
        unzipped = gunzip(&body)?;
        &unzipped[..]
    } else {
        &body[..]
    };
    let json: Value = serde_json::from_slice(body)
        .map_err(|e| WireError::serialization(format!("Request body is not valid JSON: {e}")))?;
    tracing::debug!(operation, "request");
    let answer = operations::run(&gateway.client, operation, &json).await?;
    Ok(serde_json::to_vec(&answer).expect("a JSON value always serialises"))
}

async fn read_body(body: Incoming) -> Result<Bytes, Failure> {
    let collect = Limited::new(body, BODY_SIZE_MAX).collect();
    let mut collect = std::pin::pin!(collect);
    // Small bodies arrive with their headers: only a body still on its way needs a timer
    // (arming and clearing one per request showed in the profile).
    let first = std::future::poll_fn(|cx| Poll::Ready(collect.as_mut().poll(cx))).await;
    let collected = match first {
        Poll::Ready(result) => Ok(result),
        Poll::Pending => tokio::time::timeout(BODY_READ_TIMEOUT, collect).await,
    };
    match collected {
        Err(_) => Err(WireError::serialization(format!(
            "request body not received within {BODY_READ_TIMEOUT:?}"
        ))
        .into()),
        Ok(Err(error)) if error.is::<http_body_util::LengthLimitError>() => Err(Failure::TooLarge),
        Ok(Err(error)) => {
            Err(WireError::serialization(format!("cannot read request body: {error}")).into())
        }
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
    }
}

fn gunzip(body: &[u8]) -> Result<Vec<u8>, Failure> {
    let mut out = Vec::new();
    let decoder = flate2::read::GzDecoder::new(body);
    // One byte past the limit tells "too large" from "exactly the limit".
    decoder
        .take(BODY_SIZE_MAX as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| WireError::serialization(format!("cannot gunzip request body: {e}")))?;
    if out.len() > BODY_SIZE_MAX {
        return Err(Failure::TooLarge);
    }
    Ok(out)
}

fn unix_now_s() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn respond(
    status: StatusCode,
    body: Vec<u8>,
    request_id: &str,
    content_type: &'static str,
) -> Response<Full<Bytes>> {
    let crc = crc32fast::hash(&body);
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        hyper::header::CONTENT_TYPE,
        HeaderValue::from_static(content_type),
    );
    headers.insert(
        HeaderName::from_static("x-amz-crc32"),
        HeaderValue::from(crc),
    );
    if let Ok(id) = HeaderValue::from_str(request_id) {
        headers.insert(HeaderName::from_static("x-amzn-requestid"), id);
    }
    response
}
