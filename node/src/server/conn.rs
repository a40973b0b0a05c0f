//! One client connection: frames in, answers out, many requests in flight.
//!
//! A reader loop decodes frames (every payload is validated by the wire crate before use)
//! and starts a task per request, bounded by `requests_in_flight_per_connection_max`; a
//! writer task sends answers as they complete, in whatever order, tagged with their request
//! ids. A frame that breaks framing (bad length, bad checksum) closes the connection; a
//! well-framed but unusable one (unknown kind or version, bad payload) gets a typed error
//! reply and the connection goes on. An idle connection is closed after the idle timeout.
//! Nothing a client sends can panic the shard or stall other connections.

use std::rc::Rc;
use std::time::Duration;

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

/// Serves one connection until the peer closes it, it idles out, or it breaks framing.
pub async fn serve(shard: Rc<Shard>, stream: TcpStream) {
    if let Err(e) = stream.set_nodelay(true) {
        tracing::debug!(error = %e, "set_nodelay failed");
    }
    let (mut reader, mut writer) = stream.split();
    let (tx, rx) = local_channel::new_bounded::<Vec<u8>>(ANSWERS_QUEUED_MAX);
    let writer_task = glommio::spawn_local(async move {
        // Answers that are ready together leave in one send: glommio's stream writes each
        // `write_all` with its own syscall, and a pass of the raft loop completes many
        // requests of one connection at once.
        let mut batch = Vec::with_capacity(WRITE_BATCH_BYTES);
        while let Some(frame) = rx.recv().await {
            batch.clear();
            batch.extend_from_slice(&frame);
            while batch.len() < WRITE_BATCH_BYTES {
                match rx.recv().now_or_never() {
                    Some(Some(more)) => batch.extend_from_slice(&more),
                    _ => break,
                }
            }
            if writer.write_all(&batch).await.is_err() || writer.flush().await.is_err() {
                break;
            }
            if batch.capacity() > WRITE_BATCH_BYTES * 4 {
                batch = Vec::with_capacity(WRITE_BATCH_BYTES);
            }
        }
    });
    let tx = Rc::new(tx);
    let in_flight = Rc::new(Semaphore::new(
        shard.config.limits.requests_in_flight_per_connection_max as u64,
    ));
    let idle = Duration::from_secs(shard.config.limits.idle_timeout_s);
    let mut frames = FrameReader::new();
    let mut buf = vec![0u8; READ_CHUNK_BYTES];
    'conn: loop {
        let read = glommio::timer::timeout(idle, async {
            reader
                .read(&mut buf)
                .await
                .map_err(glommio::GlommioError::IoError)
        })
        .await;
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
            let tx = tx.clone();
            glommio::spawn_local(async move {
                let answer = handle(&shard, kind, id, &payload).await;
                let _ = tx.send(answer).await;
                drop(permit);
            })
            .detach();
        }
    }
    drop(tx);
    writer_task.await;
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
