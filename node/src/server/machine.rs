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
use crate::exec::{self, ItemReader, PreparedPut, PutChecks, WriteOutcome};
use crate::meta::catalog::{Catalog, METADATA_GROUP, TableRecord, table_of_group};
use crate::meta::machine::MetaMachine;
use crate::replication::{Prepared, StateMachine};
use crate::storage::dma::DmaDisk;
use crate::storage::io::Disk;
use crate::storage::{Engine, Op, StorageError};

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
            return self.skip(group, index, Error::resource_not_found()).await;
        };
        let command = match prepared.and_then(|p| p.downcast::<Command>().ok()) {
            Some(command) => *command,
            None => match Command::decode(code, payload) {
                Ok(command) => command,
                Err(err) => return self.skip(group, index, err).await,
            },
        };
        let (ops, applied) = execute(&self.engine, &table, command).await?;
        self.engine.apply_committed(group, index, ops).await?;
        Ok(applied)
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

/// Executes a write command against the state `engine` holds now: the ops to apply at the
/// entry's position and the proposer's answer. A read that fails is an error here, not a
/// rejected write: the other replicas read the same item and apply the write, so answering
/// "internal error" and applying nothing would leave this replica's state different from
/// theirs. The error stops the shard's raft loop instead (fail-stop, as for a failed write).
async fn execute<D: Disk>(
    engine: &Engine<D>,
    table: &Rc<TableRecord>,
    command: Command,
) -> Result<(Vec<Op>, Applied), StorageError> {
    let (desc, id) = (&table.description, table.id);
    let reader = ApplyReader::new(engine);
    let r = &reader;
    match command {
        Command::Put(req, checked) => {
            let outcome = match checked {
                // The proposer's checks stand while the table record is the same.
                Some((checked_against, checks)) if Rc::ptr_eq(&checked_against, table) => {
                    PreparedPut::from_checks(&req, checks).apply(r).await
                }
                _ => exec::apply_put(r, desc, id, &req).await,
            };
            reader.finish(outcome)
        }
        Command::Update(req) => reader.finish(exec::apply_update(r, desc, id, &req).await),
        Command::Delete(req) => reader.finish(exec::apply_delete(r, desc, id, &req).await),
    }
}

/// The engine as a write's apply reads it: remembers the first storage error, which
/// [`ApplyReader::finish`] then returns instead of the outcome.
struct ApplyReader<'a, D: Disk> {
    engine: &'a Engine<D>,
    failed: RefCell<Option<StorageError>>,
}

impl<'a, D: Disk> ApplyReader<'a, D> {
    fn new(engine: &'a Engine<D>) -> Self {
        Self {
            engine,
            failed: RefCell::new(None),
        }
    }

    fn note<T>(&self, result: Result<T, StorageError>) -> Result<T, Error> {
        result.map_err(|error| {
            let reported = exec::storage_error(error.clone());
            self.failed.borrow_mut().get_or_insert(error);
            reported
        })
    }

    /// The outcome's ops and answer, or the read error it met.
    fn finish<R: msg::Message + 'static>(
        &self,
        outcome: WriteOutcome<R>,
    ) -> Result<(Vec<Op>, Applied), StorageError> {
        if let Some(error) = self.failed.take() {
            return Err(error);
        }
        let answer: Answer = match outcome.result {
            Ok(response) => Box::new(move |id| answer(id, Ok(response))),
            Err(failure) => {
                let reply = failure.reply();
                Box::new(move |id| error_reply_frame(id, reply))
            }
        };
        let applied = Applied {
            answer,
            capacity: outcome.capacity,
        };
        Ok((outcome.ops, applied))
    }
}

impl<D: Disk> ItemReader for ApplyReader<'_, D> {
    async fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, Error> {
        self.note(self.engine.get(key).await)
    }

    async fn scan(
        &self,
        lo: Bound<&[u8]>,
        hi: Bound<&[u8]>,
        reverse: bool,
        limit: usize,
        max_bytes: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>, Error> {
        self.note(self.engine.scan(lo, hi, reverse, limit, max_bytes).await)
    }
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
    use crate::exec::tests::support::{
        TABLE_ID, delete_req, engine_on, item, put_req, run, s, simple, update_req,
    };
    use crate::storage::sim::SimDisk;
    use shoal_wire::message::ReturnValue;

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

    /// A write whose read of the current item fails on this replica is not answered as
    /// rejected (its entry then recorded as applied with nothing changed, while the other
    /// replicas apply it): executing it fails with the storage error, which stops the shard.
    #[test]
    fn a_read_that_fails_while_applying_a_write_is_an_error_not_a_rejection() {
        run(|| async {
            let disk = SimDisk::new();
            let engine = engine_on(disk.clone()).await;
            let table = Rc::new(TableRecord {
                id: TABLE_ID,
                description: simple(),
                partitions: Vec::new(),
            });
            let key = item(&[("pk", s("a"))]);
            let put = put_req("hsh", item(&[("pk", s("a")), ("v", s("1"))]));
            let (ops, _) = execute(&engine, &table, Command::Put(put, None))
                .await
                .expect("put executes");
            engine.commit(1, ops).await.expect("commit");
            engine.checkpoint().await.expect("checkpoint");
            engine.close().await.expect("close");

            // Damage every leaf page of the tree at rest; a fresh open has none cached.
            let tree = std::path::Path::new("/sim/exec/tree.db");
            let bytes = disk.contents(tree).expect("tree file");
            let mut leaves = 0;
            for (page, p) in bytes.chunks(4096).enumerate().skip(2) {
                if p[0..4] == *b"SHPG" && p[6] == 1 {
                    assert!(disk.corrupt(tree, page as u64 * 4096 + 200, 0x01));
                    leaves += 1;
                }
            }
            assert!(leaves > 0, "no leaf page found");
            let engine = engine_on(disk.after_crash()).await;

            let mut put = put_req("hsh", item(&[("pk", s("a")), ("v", s("2"))]));
            put.return_values = Some(ReturnValue::AllOld);
            let commands = [
                Command::Put(put, None),
                Command::Update(update_req("hsh", key.clone())),
                Command::Delete(delete_req("hsh", key)),
            ];
            for command in commands {
                match execute(&engine, &table, command).await {
                    Err(StorageError::Corrupt { reason, .. }) => {
                        assert!(reason.contains("checksum"), "{reason}")
                    }
                    Err(other) => panic!("unexpected error {other}"),
                    Ok(_) => panic!("a write that could not read its item was executed"),
                }
            }
            engine.halt().await.expect("halt");
        });
    }
}
