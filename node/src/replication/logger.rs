//! raft-rs logs through `slog`; this drain forwards its records to `tracing`, so the node
//! has one log. Every group gets a child logger carrying its id (CONVENTIONS §9).

use std::fmt::Write as _;

use slog::{Drain, KV, Level, OwnedKVList, Record};

/// Forwards slog records to tracing at the matching level.
struct TracingDrain;

impl Drain for TracingDrain {
    type Ok = ();
    type Err = slog::Never;

    fn log(&self, record: &Record<'_>, values: &OwnedKVList) -> Result<(), slog::Never> {
        let msg = record.msg().to_string();
        let mut fields = Fields(String::new());
        let _ = record.kv().serialize(record, &mut fields);
        let _ = values.serialize(record, &mut fields);
        let context = fields.0;
        // raft-rs logs every election step at info; for a node with thousands of groups that
        // is per-group chatter, so it goes to debug and only warnings and errors stay loud.
        match record.level() {
            Level::Critical | Level::Error => tracing::error!(target: "raft", %context, "{msg}"),
            Level::Warning => tracing::warn!(target: "raft", %context, "{msg}"),
            Level::Info | Level::Debug => tracing::debug!(target: "raft", %context, "{msg}"),
            Level::Trace => tracing::trace!(target: "raft", %context, "{msg}"),
        }
        Ok(())
    }
}

/// Collects key-value pairs as `k=v` text.
struct Fields(String);

impl slog::Serializer for Fields {
    fn emit_arguments(&mut self, key: slog::Key, val: &std::fmt::Arguments<'_>) -> slog::Result {
        if !self.0.is_empty() {
            self.0.push(' ');
        }
        let _ = write!(self.0, "{key}={val}");
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
