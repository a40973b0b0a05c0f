//! The shard's state machine: what applying a committed raft entry does.
//!
//! Entry payloads are `kind (u16 LE) ‖ rkyv request`: the request itself is replicated and
//! executed at apply time, in log order, by the deterministic `exec::apply_*` functions, so
//! conditions are evaluated against exactly the state every replica has at that index. The
//! metadata group (group 0) applies metadata commands instead (`meta::machine`).
//!
//! The replica that proposed a write attaches the request it already decoded (a
//! [`Command`]) and applies that instead of decoding the entry again; every other replica
//! decodes the entry. Both run the same `exec::apply_*` on the same request.
//!
//! Every entry records its position in the engine (`Engine::apply_committed`), even when
//! the request is rejected, so a restart resumes exactly after it. The proposer receives a
//! closure that encodes its answer frame for its request id.

use std::cell::RefCell;
use std::ops::Bound;
use std::rc::Rc;

use shoal_wire::Error;
use shoal_wire::cluster::TableId;
use shoal_wire::key::{hash_range, table_range};
use shoal_wire::message::{self as msg, MessageKind};

use super::dispatch::{answer, decode, error_frame, error_reply_frame};
use crate::exec::capacity::MilliUnits;
use crate::exec::{self, PreparedPut, PutChecks, WriteOutcome};
use crate::meta::catalog::{Catalog, METADATA_GROUP, TableRecord, table_of_group};
use crate::meta::machine::MetaMachine;
use crate::replication::{Prepared, StateMachine};
use crate::storage::dma::DmaDisk;
use crate::storage::{Engine, StorageError};

/// A function from a request id to the answer frame.
pub type Answer = Box<dyn FnOnce(u64) -> Vec<u8>>;

/// What a proposer gets once its entry is applied: its answer and the write units it used
/// (charged to the partition's throughput bucket).
pub struct Applied {
    /// Encodes the answer frame for the proposer's request id.
    pub answer: Answer,
    /// Write units consumed.
    pub capacity: MilliUnits,
}

impl Applied {
    /// An answer that consumed no capacity.
    pub fn free(answer: Answer) -> Applied {
        Applied {
            answer,
            capacity: MilliUnits::default(),
        }
    }
}

/// Encodes a write command for a raft entry.
pub fn encode_command<M: msg::Message>(request: &M) -> Result<Vec<u8>, Error> {
    let head = M::KIND.code().to_le_bytes().to_vec();
    rkyv::api::high::to_bytes_in::<_, rkyv::rancor::Error>(request, head)
        .map_err(|e| Error::internal(format!("encode {}: {e}", M::KIND.name())))
}

/// Largest client payload a write's entry holds as it came (see [`command_entry`]).
pub const RAW_COMMAND_BYTES_MAX: usize = 64 << 10;

/// The raft entry of a write request whose `payload` (of `kind`) arrived from a client and
/// decoded to `decoded` (so was validated): the same bytes behind the kind, with no second
/// encoding, up to [`RAW_COMMAND_BYTES_MAX`]. A larger payload is encoded again from the
/// decoded request: a valid payload may also carry bytes nothing in it points to, and
/// those must not reach the log (a 1 WCU put padded to 17 MiB would exceed the log's
/// largest record and stop the shard's raft loop); the decoded request's size is bounded by
/// its validation.
pub fn command_entry(
    kind: MessageKind,
    payload: &[u8],
    decoded: &Command,
) -> Result<Vec<u8>, Error> {
    if payload.len() > RAW_COMMAND_BYTES_MAX {
        return decoded.encode();
    }
    let mut command = Vec::with_capacity(2 + payload.len());
    command.extend_from_slice(&kind.code().to_le_bytes());
    command.extend_from_slice(payload);
    Ok(command)
}

/// A decoded write command: what an entry holds, and what its proposer attaches to it.
pub enum Command {
    /// PutItem, with what the proposer checked of it against the table record it names.
    Put(msg::PutItemRequest, Option<(Rc<TableRecord>, PutChecks)>),
    /// UpdateItem.
    Update(msg::UpdateItemRequest),
    /// DeleteItem.
    Delete(msg::DeleteItemRequest),
}

impl Command {
    /// The entry for this request, encoded.
    pub fn encode(&self) -> Result<Vec<u8>, Error> {
        match self {
            Command::Put(req, _) => encode_command(req),
            Command::Update(req) => encode_command(req),
            Command::Delete(req) => encode_command(req),
        }
    }

    /// Decodes an entry's payload of kind `code`.
    fn decode(code: u16, payload: &[u8]) -> Result<Command, Error> {
        match MessageKind::from_code(code) {
            Some(kind @ MessageKind::PutItemRequest) => {
                decode(kind, payload).map(|req| Command::Put(req, None))
            }
            Some(kind @ MessageKind::UpdateItemRequest) => {
                decode(kind, payload).map(Command::Update)
            }
            Some(kind @ MessageKind::DeleteItemRequest) => {
                decode(kind, payload).map(Command::Delete)
            }
            _ => Err(Error::internal(format!("unknown command kind {code:#06x}"))),
        }
    }
}

/// The state machine of one shard.
pub struct Machine {
    engine: Engine<DmaDisk>,
    catalog: Rc<RefCell<Catalog>>,
    meta: Option<MetaMachine>,
}

impl Machine {
    /// A state machine over `engine`; `meta` is set on the metadata shard only.
    pub fn new(
        engine: Engine<DmaDisk>,
        catalog: Rc<RefCell<Catalog>>,
        meta: Option<MetaMachine>,
    ) -> Self {
        Self {
            engine,
            catalog,
            meta,
        }
    }

    /// The metadata state machine, on the metadata shard.
    pub fn meta(&self) -> Option<&MetaMachine> {
        self.meta.as_ref()
    }

    async fn apply_data(
        &self,
        group: u64,
        index: u64,
        data: &[u8],
        prepared: Option<Prepared>,
    ) -> Result<Applied, StorageError> {
        let table = self.catalog.borrow().table_by_id(table_of_group(group));
        let (code, payload) = match data {
            [a, b, rest @ ..] => (u16::from_le_bytes([*a, *b]), rest),
            _ => (0, &[][..]),
        };
        let Some(table) = table else {
            self.engine
                .apply_committed(group, index, Vec::new())
                .await?;
            return Ok(Applied::free(rejected(Error::resource_not_found())));
        };
        let (desc, id) = (&table.description, table.id);
        let e = &self.engine;
        let command = match prepared.and_then(|p| p.downcast::<Command>().ok()) {
            Some(command) => *command,
            None => match Command::decode(code, payload) {
                Ok(command) => command,
                Err(err) => return self.skip(group, index, err).await,
            },
        };
        let applied = match command {
            Command::Put(req, checked) => {
                let outcome = match checked {
                    // The proposer's checks stand while the table record is the same.
                    Some((checked_against, checks)) if Rc::ptr_eq(&checked_against, &table) => {
                        PreparedPut::from_checks(&req, checks).apply(e).await
                    }
                    _ => exec::apply_put(e, desc, id, &req).await,
                };
                self.finish(group, index, outcome).await?
            }
            Command::Update(req) => {
                let outcome = exec::apply_update(e, desc, id, &req).await;
                self.finish(group, index, outcome).await?
            }
            Command::Delete(req) => {
                let outcome = exec::apply_delete(e, desc, id, &req).await;
                self.finish(group, index, outcome).await?
            }
        };
        Ok(applied)
    }

    /// Applies a write outcome's ops at this position and turns its result into an answer.
    async fn finish<R: msg::Message + 'static>(
        &self,
        group: u64,
        index: u64,
        outcome: WriteOutcome<R>,
    ) -> Result<Applied, StorageError> {
        self.engine
            .apply_committed(group, index, outcome.ops)
            .await?;
        let answer: Answer = match outcome.result {
            Ok(response) => Box::new(move |id| answer(id, Ok(response))),
            Err(failure) => {
                let reply = failure.reply();
                Box::new(move |id| error_reply_frame(id, reply))
            }
        };
        Ok(Applied {
            answer,
            capacity: outcome.capacity,
        })
    }

    /// Records the position of an entry that changes nothing.
    async fn skip(&self, group: u64, index: u64, error: Error) -> Result<Applied, StorageError> {
        self.engine
            .apply_committed(group, index, Vec::new())
            .await?;
        Ok(Applied::free(rejected(error)))
    }
}

fn rejected(error: Error) -> Answer {
    Box::new(move |id| error_frame(id, &error))
}

impl StateMachine for Machine {
    type Output = Applied;

    async fn apply(
        &self,
        group: u64,
        index: u64,
        data: &[u8],
        prepared: Option<Prepared>,
    ) -> Result<Applied, StorageError> {
        if group == METADATA_GROUP {
            let Some(meta) = &self.meta else {
                return Err(StorageError::Invalid(
                    "metadata entry on a shard that does not host the metadata group".into(),
                ));
            };
            return meta.apply(index, data).await.map(Applied::free);
        }
        self.apply_data(group, index, data, prepared).await
    }

    fn snapshot_range(&self, group: u64) -> Option<(Vec<u8>, Option<Vec<u8>>)> {
        let range = if group == METADATA_GROUP {
            table_range(TableId(0))
        } else {
            let catalog = self.catalog.borrow();
            let table = catalog.table_by_id(table_of_group(group))?;
            let p = table.partitions.iter().find(|p| p.partition.0 == group)?;
            hash_range(table.id, p.hash_start, p.hash_end)
        };
        let start = match range.start {
            Bound::Included(k) | Bound::Excluded(k) => k,
            Bound::Unbounded => Vec::new(),
        };
        let end = match range.end {
            Bound::Excluded(k) => Some(k),
            Bound::Included(k) => crate::replication::snapshot::prefix_end(&k).or(Some(k)),
            Bound::Unbounded => None,
        };
        Some((start, end))
    }

    async fn restored(&self, group: u64) -> Result<(), StorageError> {
        match (&self.meta, group == METADATA_GROUP) {
            (Some(meta), true) => meta.reload().await,
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::tests::support::{item, put_req, s};

    fn put() -> msg::PutItemRequest {
        put_req("t", item(&[("pk", s("a"))]))
    }

    fn decoded_put(entry: &[u8]) -> msg::PutItemRequest {
        let code = u16::from_le_bytes([entry[0], entry[1]]);
        match Command::decode(code, &entry[2..]) {
            Ok(Command::Put(req, None)) => req,
            _ => panic!("not a put entry"),
        }
    }

    /// A client payload is replicated as it came when small; a large one is encoded again
    /// from the decoded request, so bytes nothing points to never reach the log.
    #[test]
    fn a_write_entry_holds_the_payload_as_sent_unless_it_is_large() {
        let kind = MessageKind::PutItemRequest;
        let entry = encode_command(&put()).unwrap();
        let payload = &entry[2..];
        let raw = command_entry(kind, payload, &Command::Put(put(), None)).unwrap();
        assert_eq!(raw, entry, "small: the same bytes");
        assert_eq!(decoded_put(&raw), put());

        // The same archive behind 64 KiB of bytes nothing points to still decodes (rkyv
        // finds the root at the end), so a client can pad a valid request.
        let mut padded = vec![0u8; RAW_COMMAND_BYTES_MAX + 16];
        padded.extend_from_slice(payload);
        let decoded: msg::PutItemRequest = decode(kind, &padded).expect("padded payload decodes");
        assert_eq!(decoded, put());
        let bounded = command_entry(kind, &padded, &Command::Put(decoded, None)).unwrap();
        assert!(bounded.len() < 1024, "re-encoded: {} bytes", bounded.len());
        assert_eq!(decoded_put(&bounded), put());
    }
}
