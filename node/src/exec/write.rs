//! What the apply step of a replicated write produces, and the plumbing PutItem, UpdateItem,
//! DeleteItem (and BatchWriteItem's puts and deletes) share.
//!
//! Invariant: an outcome is a pure function of the request and the current item: the same
//! inputs give the same ops, response and capacity on every replica (no clock, no randomness,
//! no iteration over hash maps). A failed condition or a rejected request produces no ops.
//! Does not apply the ops: the server hands them to the engine at the entry's log position.

use shoal_wire::Error;
use shoal_wire::message::ErrorReply;
use shoal_wire::value::Item;

use super::capacity::MilliUnits;
use super::item_codec;
use super::reader::ItemReader;
use super::table::ItemKey;
use crate::storage::Op;

/// The result of applying one write.
#[derive(Clone, Debug, PartialEq)]
pub struct WriteOutcome<R> {
    /// Storage ops to apply at this log position (empty when nothing changes).
    pub ops: Vec<Op>,
    /// The response, or the error the client gets.
    pub result: Result<R, WriteError>,
    /// Write units consumed (charged to the partition's bucket whatever the result; zero for
    /// requests rejected before the item was read).
    pub capacity: MilliUnits,
}

/// A failed write: the error and, for `ConditionalCheckFailedException` with
/// `ReturnValuesOnConditionCheckFailure=ALL_OLD`, the item as it was.
#[derive(Clone, Debug, PartialEq)]
pub struct WriteError {
    /// Kind and message.
    pub error: Error,
    /// The existing item (condition failures with ALL_OLD only).
    pub item: Option<Item>,
}

impl WriteError {
    /// The error reply the server sends.
    pub fn reply(&self) -> ErrorReply {
        let mut reply = ErrorReply::from_error(&self.error);
        reply.item = self.item.clone();
        reply
    }
}

impl From<Error> for WriteError {
    fn from(error: Error) -> WriteError {
        WriteError { error, item: None }
    }
}

impl<R> WriteOutcome<R> {
    /// A write refused without touching anything.
    pub(crate) fn rejected(error: Error, capacity: MilliUnits) -> WriteOutcome<R> {
        WriteOutcome {
            ops: Vec::new(),
            result: Err(error.into()),
            capacity,
        }
    }

    /// A write whose condition evaluated to false.
    pub(crate) fn condition_failed(
        old: Option<Item>,
        return_old: bool,
        capacity: MilliUnits,
    ) -> WriteOutcome<R> {
        WriteOutcome {
            ops: Vec::new(),
            result: Err(WriteError {
                error: Error::conditional_check_failed(),
                item: if return_old { old } else { None },
            }),
            capacity,
        }
    }
}

/// Reads and decodes the current item at `key`.
pub(crate) async fn read_item(
    reader: &impl ItemReader,
    key: &ItemKey,
) -> Result<Option<Item>, Error> {
    match reader.get(&key.storage_key).await? {
        Some(bytes) => item_codec::decode(&bytes).map(Some),
        None => Ok(None),
    }
}

/// The op that stores `item` at `key`.
pub(crate) fn put_op(key: &ItemKey, item: &Item) -> Result<Op, Error> {
    Ok(Op {
        key: key.storage_key.clone(),
        value: Some(item_codec::encode(item)?),
    })
}

/// The op that deletes the item at `key`.
pub(crate) fn delete_op(key: &ItemKey) -> Op {
    Op {
        key: key.storage_key.clone(),
        value: None,
    }
}
