//! The runtime facade: the only module that names glommio's executor API.
//!
//! glommio 0.9.0 is frozen upstream (RUNTIME-NOTES §1.7, pitfall 9); keeping every use of its
//! executor, task queues and timers behind these few functions makes a move to its fork or to
//! another thread-per-core runtime a one-module change. DMA files live behind
//! `storage::dma` for the same reason.
//!
//! Task queues of a shard (RUNTIME-NOTES §1.4): `fg` for client requests and the log
//! flusher (latency matters), `bg` for checkpoints and other bulk work (shares only).

use std::future::Future;
use std::time::Duration;

use glommio::{Latency, LocalExecutorBuilder, Placement, Shares};
pub use glommio::{Task, TaskQueueHandle};

/// Shares of the foreground queue (client requests, log flushes).
pub const FOREGROUND_SHARES: usize = 1000;
/// Shares of the background queue (checkpoints). Background work gets a fifth of a busy
/// core and all of an idle one.
pub const BACKGROUND_SHARES: usize = 200;

/// The task queues of one shard.
#[derive(Debug, Clone, Copy)]
pub struct Queues {
    /// Client requests and the log flusher.
    pub foreground: TaskQueueHandle,
    /// Checkpoints and other bulk work.
    pub background: TaskQueueHandle,
}

/// Creates the shard's task queues on the current executor.
pub fn create_queues() -> Queues {
    let ex = glommio::executor();
    Queues {
        foreground: ex.create_task_queue(
            Shares::Static(FOREGROUND_SHARES),
            Latency::Matters(Duration::from_millis(1)),
            "fg",
        ),
        background: ex.create_task_queue(
            Shares::Static(BACKGROUND_SHARES),
            Latency::NotImportant,
            "bg",
        ),
    }
}

/// Spawns a task on the current executor's current queue; dropping the handle cancels it.
pub fn spawn<T: 'static>(fut: impl Future<Output = T> + 'static) -> Task<T> {
    glommio::spawn_local(fut)
}

/// Spawns a task on the current executor's current queue and lets it run on its own.
pub fn spawn_detached(fut: impl Future<Output = ()> + 'static) {
    glommio::spawn_local(fut).detach();
}

/// Spawns a task into `queue` and lets it run on its own.
pub fn spawn_detached_into(fut: impl Future<Output = ()> + 'static, queue: TaskQueueHandle) {
    match glommio::spawn_local_into(fut, queue) {
        Ok(task) => {
            task.detach();
        }
        Err(e) => panic!("task queue {queue:?} missing on this executor: {e}"),
    }
}

/// Yields if the scheduler wants this task queue to give way (long CPU loops call this).
pub async fn yield_if_needed() {
    glommio::yield_if_needed().await;
}

/// Gives way to the reactor now: before this task runs again the executor submits the I/O
/// queued meanwhile and collects what completed. A long CPU loop that overlaps its own
/// reads (recovery scanning one log segment while reading the next) calls this often
/// enough that the disk never waits for it.
///
/// A plain yield does not do it: glommio polls for I/O only between rounds of its task
/// queues, and a queue that yields but stays runnable is run again in the same round, so
/// I/O waited for the preemption timer (up to 100 ms). Waiting for a timer a microsecond
/// away leaves the queue idle, so the round ends and the reactor polls (the timer is
/// due by then, or the executor parks that long).
pub async fn yield_to_io() {
    glommio::timer::sleep(Duration::from_micros(1)).await;
}

/// Sleeps for `d`.
pub async fn sleep(d: Duration) {
    glommio::timer::sleep(d).await;
}

/// Runs `fut` to completion on a new single executor thread (no CPU pinning), with
/// `io_memory` bytes of registered DMA memory. For tools and tests.
pub fn run_local<T, F, Fut>(name: &str, io_memory: usize, make: F) -> std::io::Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = T> + 'static,
{
    let handle = LocalExecutorBuilder::new(Placement::Unbound)
        .name(name)
        .io_memory(io_memory)
        .spawn(make)
        .map_err(std::io::Error::from)?;
    handle.join().map_err(std::io::Error::from)
}
