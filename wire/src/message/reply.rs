//! The error reply: the one response kind every request may get instead of its own
//! response, carrying an error kind's wire code, the message and the kind-specific payload
//! (cancellation reasons, the item of a failed condition, the fresh partition-map entry of a
//! routing error).
//!
//! Invariant: `ErrorReply::from_error(e).to_error() == e` for every known kind; an unknown
//! code (from a newer writer) becomes `InternalServerError` naming the code, never a panic.
//! Does not decide retries; the client reads `ErrorKind::is_retryable`.

use crate::cluster::{PartitionMapEntry, ReplicaLocation};
use crate::error::{Error, ErrorKind};
use crate::message::common::CancellationReason;
use crate::value::Item;

wire_struct! {
    /// An error answer to any request.
    pub struct ErrorReply {
        /// `ErrorKind::code()`.
        pub code: u16,
        /// Human message.
        pub message: String,
        /// `NotLeader`'s hint.
        pub leader_hint: Option<ReplicaLocation>,
        /// The fresh partition-map entry (routing errors), if the node knows it.
        pub partition: Option<PartitionMapEntry>,
        /// `TransactionCanceled`: one reason per action, in request order.
        pub cancellation_reasons: Vec<CancellationReason>,
        /// `ConditionalCheckFailed` with `ReturnValuesOnConditionCheckFailure=ALL_OLD`.
        pub item: Option<Item>,
    }
}

impl ErrorReply {
    /// A reply for an error, without extra payload.
    pub fn from_error(error: &Error) -> ErrorReply {
        let leader_hint = match error.kind {
            ErrorKind::NotLeader { hint } => hint,
            _ => None,
        };
        ErrorReply {
            code: error.kind.code(),
            message: error.message.clone(),
            leader_hint,
            partition: None,
            cancellation_reasons: Vec::new(),
            item: None,
        }
    }

    /// The error this reply carries.
    pub fn to_error(&self) -> Error {
        match ErrorKind::from_code(self.code, self.leader_hint) {
            Some(kind) => Error::new(kind, self.message.clone()),
            None => Error::internal(format!(
                "unknown error code {} from a newer peer: {}",
                self.code, self.message
            )),
        }
    }
}

impl ArchivedErrorReply {
    /// The error kind, read without deserializing (`None` for an unknown code).
    pub fn kind(&self) -> Option<ErrorKind> {
        let hint = self.leader_hint.as_ref().map(|hint| ReplicaLocation {
            node: crate::cluster::NodeId(hint.node.0.to_native()),
            shard: crate::cluster::ShardId(hint.shard.0.to_native()),
        });
        ErrorKind::from_code(self.code.to_native(), hint)
    }
}
