//! raft-rs logs through `slog`; this drain forwards its records to `tracing`, so the node
//! has one log. Every group gets a child logger carrying its id (CONVENTIONS §9).

use slog::{Drain, Level, OwnedKVList, Record};

/// Forwards slog records to tracing at the matching level.
struct TracingDrain;

impl Drain for TracingDrain {
    type Ok = ();
    type Err = slog::Never;

    fn log(&self, record: &Record<'_>, values: &OwnedKVList) -> Result<(), slog::Never> {
        let msg = record.msg().to_string();
        let context = format!("{values:?}");
        match record.level() {
            Level::Critical | Level::Error => tracing::error!(target: "raft", %context, "{msg}"),
            Level::Warning => tracing::warn!(target: "raft", %context, "{msg}"),
            Level::Info => tracing::info!(target: "raft", %context, "{msg}"),
            Level::Debug => tracing::debug!(target: "raft", %context, "{msg}"),
            Level::Trace => tracing::trace!(target: "raft", %context, "{msg}"),
        }
        Ok(())
    }
}

/// The root raft logger of a shard.
pub fn raft_logger(replica: u64, shard: u16) -> slog::Logger {
    slog::Logger::root(
        TracingDrain.fuse(),
        slog::o!("replica" => replica, "shard" => shard),
    )
}
