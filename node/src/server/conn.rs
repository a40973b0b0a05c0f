//! One client connection: frames in, answers out, many requests in flight.
//!
//! A reader loop decodes frames (every payload is validated by the wire crate before use)
//! and polls each request once itself: what completes at once (a get served from the page
//! cache, an error) is answered by the reader, in sends of 2, then 4, 8 and at most 16
//! answers, so the client works on the first answers while the shard computes the rest
//! (one send per read batch held client and shard in lockstep: GetItem at 16 in flight
//! 110k/s, at 64 170k/s; with these sends 200k and 360k, one shard). A request that must
//! wait (a write for its quorum, a read for its page) moves to a task of its own, bounded by
//! `requests_in_flight_per_connection_max`; a writer task sends those answers as they
//! complete. Answers go out in whatever order, tagged with their request ids. A frame that
//! breaks framing (bad length, bad checksum) closes the connection; a well-framed but
//! unusable one (unknown kind or version, bad payload) gets a typed error reply and the
//! connection goes on. An idle connection is closed after the idle timeout. Nothing a
//! client sends can panic the shard or stall other connections: the reader yields to other
//! tasks when the executor asks after each read.
//!
//! Between requests a connection with nothing of its own in flight, on a shard whose log
//! has no flush to finish, first polls its socket with non-blocking reads for
//! `runtime.spin_before_park_us` (letting the executor run between short bursts), and only
//! then waits through glommio: see [`poll_socket`] for why.

use std::os::fd::{AsRawFd, RawFd};
use std::rc::Rc;
use std::task::Poll;
use std::time::{Duration, Instant};

use futures::FutureExt;
use futures::io::{AsyncReadExt, AsyncWriteExt};
use glommio::channels::local_channel;
use glommio::net::TcpStream;
use glommio::sync::Semaphore;
use shoal_wire::message::ErrorReply;
use shoal_wire::{Error, FrameError, FrameReader, encode_frame};

use super::dispatch::handle;
use super::shard::Shard;

/// Bytes read from the socket at a time.
const READ_CHUNK_BYTES: usize = 64 << 10;
/// Answers gathered into one send, bytes (a large answer still goes whole).
const WRITE_BATCH_BYTES: usize = 64 << 10;
/// Answers queued for the writer before request tasks wait.
const ANSWERS_QUEUED_MAX: usize = 1024;
/// Answers the reader completed itself that leave in its first send of a read batch; each
/// later send carries twice as many, up to [`INLINE_ANSWERS_PER_SEND_MAX`].
const INLINE_ANSWERS_FIRST_SEND: usize = 2;
/// Answers the reader completed itself that leave in one send, at most.
const INLINE_ANSWERS_PER_SEND_MAX: usize = 16;
/// Longest a connection polls its socket without letting the executor run (see
/// [`poll_socket`]). Measured, one node, one shard, GetItem at 1 / 16 / 64 in flight: 0 µs
/// (one `recv` per executor pass) 18.5k / 258k / 389k per second, 5 µs 21.5k / 268k /
/// 400k, 10 µs 20.5k / 292k / 385k (single 3 s runs, noisy); PutItem unchanged.
const POLL_BURST: Duration = Duration::from_micros(5);

/// Requests that take at least this long are logged (with their kind), so a client's
/// timeout can be matched with what the shard did.
const SLOW_REQUEST: Duration = Duration::from_secs(1);

/// Serves one connection until the peer closes it, it idles out, or it breaks framing.
pub async fn serve(shard: Rc<Shard>, stream: TcpStream) {
    if let Err(e) = stream.set_nodelay(true) {
        tracing::debug!(error = %e, "set_nodelay failed");
    }
    let fd = stream.as_raw_fd();
    let (mut reader, writer) = stream.split();
    // The reader sends the answers it completed itself, the writer task those of requests
    // that waited: both through this lock.
    let writer = Rc::new(futures::lock::Mutex::new(writer));
    let (tx, rx) = local_channel::new_bounded::<Vec<u8>>(ANSWERS_QUEUED_MAX);
    let queued = writer.clone();
    let writer_task = glommio::spawn_local(async move {
        // Answers that are ready together leave in one send: glommio's stream writes each
        // `write_all` with its own syscall, and a pass of the raft loop completes many
        // requests of one connection at once.
        let mut batch = Vec::with_capacity(WRITE_BATCH_BYTES);
        while let Some(frame) = rx.recv().await {
            batch.extend_from_slice(&frame);
            while batch.len() < WRITE_BATCH_BYTES {
                match rx.recv().now_or_never() {
                    Some(Some(more)) => batch.extend_from_slice(&more),
                    _ => break,
                }
            }
            if send(&queued, &mut batch).await.is_err() {
                break;
            }
        }
    });
    let tx = Rc::new(tx);
    let in_flight_max = shard.config.limits.requests_in_flight_per_connection_max as u64;
    let in_flight = Rc::new(Semaphore::new(in_flight_max));
    let idle = Duration::from_secs(shard.config.limits.idle_timeout_s);
    let polling = Duration::from_micros(shard.config.runtime.spin_before_park_us);
    let mut frames = FrameReader::new();
    let mut buf = vec![0u8; READ_CHUNK_BYTES];
    let mut answers: Vec<u8> = Vec::with_capacity(WRITE_BATCH_BYTES);
    let mut answered = 0usize;
    let mut next_send = INLINE_ANSWERS_FIRST_SEND;
    'conn: loop {
        // While a request of this connection waits in a task of its own, or the shard's log
        // has a flush to finish, the shard's CPU is better left to that flush (its io_uring
        // worker shares the CPU): polling then cost puts ~20% at one in flight.
        let waiting = in_flight.available() < in_flight_max;
        let window = if waiting || flushing(&shard) {
            Duration::ZERO
        } else {
            polling
        };
        let read = match poll_socket(fd, &mut buf, window, || !flushing(&shard)).await {
            Some(read) => read,
            None => glommio::timer::timeout(idle, async {
                reader
                    .read(&mut buf)
                    .await
                    .map_err(glommio::GlommioError::IoError)
            })
            .await
            .map_err(|e| std::io::Error::other(e.to_string())),
        };
        let n = match read {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        frames.extend(&buf[..n]);
        loop {
            let frame = match frames.next_frame() {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(e) if e.is_fatal() => {
                    tracing::debug!(error = %e, "closing connection: framing lost");
                    break 'conn;
                }
                Err(e) => {
                    answer_frame_error(&tx, &e).await;
                    continue;
                }
            };
            let permit = in_flight.clone().acquire_static_permit(1).await;
            let Ok(permit) = permit else { break 'conn };
            let (kind, id) = (frame.header.kind, frame.header.request_id);
            let payload = frame.payload.to_vec();
            let shard = shard.clone();
            let mut answer = Box::pin(async move { handle(&shard, kind, id, &payload).await });
            // A first poll here; a request still pending moves, as it is, to its own task
            // (which polls it again and so takes over its wake-ups).
            if let Poll::Ready(frame) = futures::poll!(answer.as_mut()) {
                drop(permit);
                answers.extend_from_slice(&frame);
                answered += 1;
                if answered >= next_send {
                    if send(&writer, &mut answers).await.is_err() {
                        break 'conn;
                    }
                    answered = 0;
                    next_send = (next_send * 2).min(INLINE_ANSWERS_PER_SEND_MAX);
                }
                continue;
            }
            let tx = tx.clone();
            let started = Instant::now();
            glommio::spawn_local(async move {
                let frame = answer.await;
                let took = started.elapsed();
                if took >= SLOW_REQUEST {
                    tracing::info!(request = kind.name(), ?took, "slow request");
                }
                let _ = tx.send(frame).await;
                drop(permit);
            })
            .detach();
        }
        if !answers.is_empty() {
            if send(&writer, &mut answers).await.is_err() {
                break;
            }
            answered = 0;
        }
        next_send = INLINE_ANSWERS_FIRST_SEND;
        // A read that finds data never waits: without this a busy connection would keep
        // the shard to itself.
        glommio::yield_if_needed().await;
    }
    drop(tx);
    writer_task.await;
}

/// Reads what the client sent next by polling the socket with non-blocking `recv` for at
/// most `window`; `None` if nothing came (the caller then waits through glommio, which arms
/// an io_uring poll on the socket).
///
/// Why: with a poll armed, the client's send completes it through io_uring task work, which
/// interrupts the shard's CPU (a reschedule IPI: ~20 µs of the VM's time per request at one
/// in flight, measured with perf) even while the shard polls anyway. With no waiter on the
/// socket the send only queues the data. One node, one shard, GetItem at 1 / 16 / 64 in
/// flight: 10.2k / 165k / 311k → 21.5k / 268k / 400k per second (bench/README.md).
/// Fairness: the task polls for at most [`POLL_BURST`] at a time, then waits on a timer, so
/// the executor runs its other tasks and reaps I/O completions and timers between bursts.
/// At most one connection of a shard polls at a time (the others wait through glommio at
/// once), so the bursts of many connections never add up to a long stall of the shard.
/// Stops early (`None`) once `keep_polling` says so between two bursts.
async fn poll_socket(
    fd: RawFd,
    buf: &mut [u8],
    window: Duration,
    keep_polling: impl Fn() -> bool,
) -> Option<std::io::Result<usize>> {
    if window.is_zero() {
        return None;
    }
    let _turn = PollingTurn::take()?;
    let deadline = Instant::now() + window;
    loop {
        let burst_end = Instant::now() + POLL_BURST;
        loop {
            // SAFETY: `buf` is valid for `buf.len()` bytes of writes; `fd` is the socket of
            // the caller's stream, open while the caller holds it.
            let n =
                unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), libc::MSG_DONTWAIT) };
            if n >= 0 {
                return Some(Ok(n as usize));
            }
            let error = std::io::Error::last_os_error();
            match error.kind() {
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::Interrupted => {}
                _ => return Some(Err(error)),
            }
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            if now >= burst_end {
                break;
            }
        }
        glommio::timer::sleep(Duration::from_micros(1)).await;
        if !keep_polling() {
            return None;
        }
    }
}

thread_local! {
    /// Whether a connection of this thread's shard is polling its socket.
    static POLLING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// The shard's one polling turn, given back when dropped (also when the polling future is).
struct PollingTurn;

impl PollingTurn {
    fn take() -> Option<PollingTurn> {
        (!POLLING.replace(true)).then_some(PollingTurn)
    }
}

impl Drop for PollingTurn {
    fn drop(&mut self) {
        POLLING.set(false);
    }
}

/// Whether the shard's log has appended records that are not durable yet.
fn flushing(shard: &Shard) -> bool {
    !shard.engine.wal().all_durable()
}

/// Sends `answers` through the connection's writer and empties it (giving back what one
/// large answer grew it to).
async fn send(
    writer: &futures::lock::Mutex<futures::io::WriteHalf<TcpStream>>,
    answers: &mut Vec<u8>,
) -> std::io::Result<()> {
    let mut w = writer.lock().await;
    w.write_all(answers).await?;
    w.flush().await?;
    answers.clear();
    if answers.capacity() > WRITE_BATCH_BYTES * 4 {
        *answers = Vec::with_capacity(WRITE_BATCH_BYTES);
    }
    Ok(())
}

async fn answer_frame_error(tx: &local_channel::LocalSender<Vec<u8>>, e: &FrameError) {
    let Some(id) = e.request_id() else {
        return;
    };
    let error = Error::validation(format!("unusable frame: {e}"));
    if let Ok(frame) = encode_frame(id, &ErrorReply::from_error(&error)) {
        let _ = tx.send(frame).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_connection_of_a_shard_polls_at_a_time() {
        let first = PollingTurn::take().expect("a free turn");
        assert!(PollingTurn::take().is_none(), "a second poller");
        drop(first);
        let again = PollingTurn::take().expect("the turn came back");
        // Another shard's thread has a turn of its own.
        std::thread::spawn(|| assert!(PollingTurn::take().is_some()))
            .join()
            .expect("other thread");
        drop(again);
    }
}
